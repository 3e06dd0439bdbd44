/**
 * The addon on REAL block devices: loop devices over sparse files on /tmp (losetup, as root).
 * Skipped with the reason when not root or without /dev/loop-control; runs as root in CI.
 */
import { closeSync, ftruncateSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../src/native/binding.js';
import type { NativeIo } from '../../src/native/types.js';
import { ADDON_PATH, attachLoop, detachLoop, LOOP_SKIP_REASON, NO_ADDON_REASON, tempDir } from './helpers.js';

const DEVICE_BYTES = 64 << 20;
const skip = LOOP_SKIP_REASON ?? (ADDON_PATH ? undefined : NO_ADDON_REASON);

describe.skipIf(skip !== undefined)(`addon on loop devices${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let n: NativeIo;
  let tmp: ReturnType<typeof tempDir>;
  const devices: string[] = [];

  const sparse = (name: string, bytes: number): string => {
    const p = join(tmp.dir, name);
    const fd = openSync(p, 'w');
    ftruncateSync(fd, bytes);
    closeSync(fd);
    return p;
  };

  beforeAll(() => {
    n = loadNative();
    tmp = tempDir('xdbm-loop-');
  });
  afterAll(async () => {
    for (const d of devices) await detachLoop(d);
    tmp.cleanup();
  });

  for (const sector of [512, 4096]) {
    it(`deviceInfo of a 64 MiB loop device with ${sector}-byte sectors`, async () => {
      const dev = await attachLoop(sparse(`dev${sector}.img`, DEVICE_BYTES), sector);
      devices.push(dev);
      const fd = n.open(dev, { direct: true, write: true });
      try {
        const info = n.deviceInfo(fd);
        expect(info).toMatchObject({ sizeBytes: DEVICE_BYTES, logicalBlockBytes: sector, isBlockDevice: true });
        expect(info.physicalBlockBytes).toBeGreaterThanOrEqual(sector);
        // One logical block is the unit: it round-trips at the last block of the device.
        const w = n.allocAligned(sector);
        const r = n.allocAligned(sector);
        w.fill(0xe1);
        expect(n.pwriteSync(fd, w, DEVICE_BYTES - sector)).toBe(sector);
        expect(n.preadSync(fd, r, DEVICE_BYTES - sector)).toBe(sector);
        expect(r.equals(w)).toBe(true);
        if (sector === 4096) {
          // 512-aligned but below the device's logical block: the kernel says EINVAL.
          expect(() => n.pwriteSync(fd, w.subarray(0, 512), 0)).toThrow(
            expect.objectContaining({ code: 'XDBM_INVALID_ARGUMENT', errno: 22, syscallCode: 'EINVAL' }),
          );
        }
        // Past the end of a block device the kernel answers ENOSPC.
        expect(() => n.pwriteSync(fd, w, DEVICE_BYTES)).toThrow(
          expect.objectContaining({ code: 'XDBM_NO_SPACE', errno: 28, syscallCode: 'ENOSPC' }),
        );
        await expect(n.pwrite(fd, w, DEVICE_BYTES)).rejects.toMatchObject({ code: 'XDBM_NO_SPACE', errno: 28 });
        // Reads at the end are short (0 bytes), not errors.
        expect(n.preadSync(fd, r, DEVICE_BYTES)).toBe(0);
      } finally {
        n.close(fd);
      }
    });
  }

  it('runs io_uring batches on the device at QD 1 and 32', async () => {
    const dev = await attachLoop(sparse('uring.img', DEVICE_BYTES));
    devices.push(dev);
    const fd = n.open(dev, { direct: true, write: true });
    try {
      for (const queueDepth of [1, 32]) {
        const r = await n.uringRun(fd, {
          op: 'write', blockBytes: 4096, queueDepth, regionOffsetBytes: 0, regionLengthBytes: DEVICE_BYTES, totalOps: 1000, random: true,
        });
        expect(r).toMatchObject({ ops: 1000, errors: 0, bytes: 1000 * 4096 });
        expect(r.latenciesNs.length).toBe(1000);
      }
    } finally {
      n.close(fd);
    }
  });
});
