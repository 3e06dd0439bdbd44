/** SMART / Health log, ANA and controller-state parsing on constructed pages. */
import { describe, expect, it } from 'vitest';
import {
  CriticalWarningBit, SMART_LOG_BYTES, anaStateUsable, criticalWarningNames, parseAnaState,
  parseControllerState, parseSmartLog,
} from '../../src/nvme/health-log.js';

/** Builds a SMART page the way a controller lays it out (NVMe Base spec, Figure "SMART / Health"). */
function smartPage(f: {
  criticalWarning?: number; temperatureK?: number; availableSpare?: number; spareThreshold?: number;
  percentageUsed?: number; dataUnitsRead?: bigint; dataUnitsWritten?: bigint; powerOnHours?: bigint;
  unsafeShutdowns?: bigint; mediaErrors?: bigint; errorLogEntries?: bigint;
}): Buffer {
  const b = Buffer.alloc(SMART_LOG_BYTES, 0);
  b[0] = f.criticalWarning ?? 0;
  b.writeUInt16LE(f.temperatureK ?? 0, 1);
  b[3] = f.availableSpare ?? 0;
  b[4] = f.spareThreshold ?? 0;
  b[5] = f.percentageUsed ?? 0;
  const u128 = (off: number, v: bigint | undefined) => {
    b.writeBigUInt64LE((v ?? 0n) & 0xffffffffffffffffn, off);
    b.writeBigUInt64LE((v ?? 0n) >> 64n, off + 8);
  };
  u128(32, f.dataUnitsRead);
  u128(48, f.dataUnitsWritten);
  u128(128, f.powerOnHours);
  u128(144, f.unsafeShutdowns);
  u128(160, f.mediaErrors);
  u128(176, f.errorLogEntries);
  return b;
}

describe('parseSmartLog', () => {
  it('reads every field at its spec offset', () => {
    const s = parseSmartLog(smartPage({
      criticalWarning: 0b101, temperatureK: 310, availableSpare: 97, spareThreshold: 10, percentageUsed: 3,
      dataUnitsRead: 123456n, dataUnitsWritten: 654321n, powerOnHours: 4242n, unsafeShutdowns: 7n,
      mediaErrors: 2n, errorLogEntries: 11n,
    }));
    expect(s).toEqual({
      criticalWarning: 5, temperatureK: 310, availableSpare: 97, availableSpareThreshold: 10, percentageUsed: 3,
      dataUnitsRead: 123456, dataUnitsWritten: 654321, hostReadCommands: 0, hostWriteCommands: 0,
      powerOnHours: 4242, unsafeShutdowns: 7, mediaErrors: 2, errorLogEntries: 11,
    });
  });

  it('uses the high 64 bits of 128-bit counters', () => {
    expect(parseSmartLog(smartPage({ mediaErrors: 1n << 64n })).mediaErrors).toBe(2 ** 64);
  });

  it('works on a page inside a larger buffer (non-zero byteOffset)', () => {
    const big = Buffer.alloc(SMART_LOG_BYTES + 8);
    smartPage({ temperatureK: 300, mediaErrors: 9n }).copy(big, 8);
    const s = parseSmartLog(big.subarray(8));
    expect([s.temperatureK, s.mediaErrors]).toEqual([300, 9]);
  });

  it('rejects a short page', () => {
    expect(() => parseSmartLog(Buffer.alloc(100))).toThrow(RangeError);
  });

  it('names critical warning bits', () => {
    expect(criticalWarningNames(CriticalWarningBit.TEMPERATURE | CriticalWarningBit.READ_ONLY))
      .toEqual(['TEMPERATURE', 'READ_ONLY']);
    expect(criticalWarningNames(0)).toEqual([]);
  });
});

describe('ANA and controller state', () => {
  it('parses the kernel ana_state strings', () => {
    expect(parseAnaState('optimized\n')).toBe('optimized');
    expect(parseAnaState('non-optimized')).toBe('non-optimized');
    expect(parseAnaState('inaccessible')).toBe('inaccessible');
    expect(parseAnaState('persistent-loss')).toBe('persistent-loss');
    expect(parseAnaState('change')).toBe('change');
    expect(parseAnaState('bogus')).toBeNull();
    expect(parseAnaState(null)).toBeNull();
  });

  it('only optimized / non-optimized (or unknown) paths are usable', () => {
    expect(anaStateUsable('optimized')).toBe(true);
    expect(anaStateUsable('inaccessible')).toBe(false);
    expect(anaStateUsable('persistent-loss')).toBe(false);
    expect(anaStateUsable(null)).toBe(true);
  });

  it('parses controller states, unknown text as unknown', () => {
    expect(parseControllerState('live\n')).toBe('live');
    expect(parseControllerState('connecting')).toBe('connecting');
    expect(parseControllerState('deleting (no IO)')).toBe('deleting (no IO)');
    expect(parseControllerState('weird')).toBe('unknown');
  });
});
