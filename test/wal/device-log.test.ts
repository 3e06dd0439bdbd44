/**
 * The managed log over real block devices (loop devices through BlockBackend, O_DIRECT): appends,
 * restart, a second writer taking over from a paused one, and re-replication between devices and
 * directories. The device layout itself is tested in device-member.test.ts.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageBackend } from '../../src/backends/backend.js';
import { create } from '../../src/backends/block.js';
import type { EndpointConfig } from '../../src/config/types.js';
import { ErrorCode } from '../../src/errors.js';
import { openManagedLog } from '../../src/wal/log.js';
import { defaultMemberFactory } from '../../src/wal/member-factory.js';
import type { CopyRef, MemberLog, ReplicaRecord } from '../../src/wal/member-log.js';
import { attachLoop, canLoop, detachLoop, LOOP_SKIP_REASON } from '../support/loop-device.js';
import { makeTempDir, removeDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';
import { TestEnsemble } from './helpers/test-ensemble.js';

const payload = (i: number, tag = ''): Buffer => Buffer.from(`dev-log-${tag}${i}-${'z'.repeat((i * 37) % 900)}`);

describe.skipIf(!canLoop)(`managed log on block devices${LOOP_SKIP_REASON ? ` (skipped: ${LOOP_SKIP_REASON})` : ''}`, () => {
  let dir: string;
  const loops: string[] = [];
  const endpoints: EndpointConfig[] = [];

  beforeAll(async () => {
    dir = makeTempDir('xdbm-devlog-');
    for (let k = 0; k < 3; k++) {
      const img = join(dir, `disk${k}.img`);
      const f = await open(img, 'w');
      await f.truncate(64 << 20);
      await f.close();
      const loop = await attachLoop(img);
      loops.push(loop);
      endpoints.push({
        endpointId: `blk${k}`, type: 'block', connectionString: `block://${loop}`,
        target: { kind: 'block', devicePath: loop }, weight: 1, labels: {}, probeAreaBytes: 4 << 20,
      } as EndpointConfig);
    }
  });
  afterAll(async () => {
    for (const l of loops) await detachLoop(l);
    removeDir(dir);
  });

  async function ensemble(name: string): Promise<{ t: TestEnsemble; devs: StorageBackend[] }> {
    const devs = [] as StorageBackend[];
    for (const e of endpoints) { const b = create(e); await b.init(); devs.push(b); }
    const t = await TestEnsemble.create({ root: join(dir, name), candidates: 3, extra: devs });
    return { t, devs };
  }

  it('carries a log over three devices through a restart, and reads back everything', async () => {
    const { t, devs } = await ensemble('restart');
    let log = await openManagedLog(t.asManager(), 'devlog');
    expect(log.members()).toEqual(['blk0', 'blk1', 'blk2']);
    const acked = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append(payload(i + 1))));
    expect(acked.at(-1)!.index).toBe(300);
    await log.close();
    log = await openManagedLog(t.asManager(), 'devlog');
    expect(log.lastIndex()).toBe(300);
    for (let i = 1; i <= 300; i++) expect(await log.read(i)).toEqual(payload(i));
    await log.close();
    for (const d of devs) await d.close();
  });

  it('a paused writer on devices is fenced at the storage: the new writer keeps everything it acknowledged', async () => {
    const { t, devs } = await ensemble('takeover');
    let hold = false;
    const held: (() => void)[] = [];
    const base = defaultMemberFactory({ segmentBytes: 1 << 20, maxBatchBytes: 4 << 20 });
    const pausing = (b: StorageBackend, n: string): MemberLog => {
      const m = base(b, n);
      const append = m.append.bind(m);
      m.append = async (copy: CopyRef, recs: ReadonlyArray<ReplicaRecord>) => {
        if (hold) await new Promise<void>((r) => held.push(r));
        return append(copy, recs);
      };
      return m;
    };
    const a = await openManagedLog(t.asManager(), 'fence', { memberFactory: pausing, writerId: 'A' });
    const acked = new Map<number, Buffer>();
    for (let i = 0; i < 100; i++) { const p = payload(i, 'A'); acked.set((await a.append(p)).index, p); }
    hold = true;
    const late = Promise.allSettled(Array.from({ length: 10 }, (_, k) => a.append(payload(k, 'late'))));
    await until(() => held.length >= 3, 'A paused with writes in flight to every device', 5000);
    const b = await openManagedLog(t.asManager(), 'fence', { writerId: 'B' });
    expect(b.lastIndex()).toBe(100);
    for (let i = 0; i < 200; i++) { const p = payload(i, 'B'); acked.set((await b.append(p)).index, p); }
    hold = false;
    for (const r of held.splice(0)) r();
    for (const o of await late) {
      if (o.status === 'rejected') expect((o.reason as { code?: string }).code).toBe(ErrorCode.FENCED);
      else expect(acked.get(o.value.index)).toBeDefined();
    }
    for (const [i, p] of acked) expect(await b.read(i)).toEqual(p);
    await b.close();
    await a.close();
    const c = await openManagedLog(t.asManager(), 'fence', { writerId: 'C' });
    for (const [i, p] of acked) expect(await c.read(i)).toEqual(p);
    await c.close();
    for (const d of devs) await d.close();
  });
});
