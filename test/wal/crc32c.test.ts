import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/wal/crc32c.js';

/** Bitwise reference, one bit at a time: independent of the table code under test. */
function crc32cBitwise(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('matches the published check value and RFC 3720 vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    const inc = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) inc[i] = i;
    expect(crc32c(inc)).toBe(0x46dd794e);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('agrees with a bitwise reference on every length 0..100 and at odd offsets', () => {
    const big = Buffer.alloc(1000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 131 + 7) & 0xff;
    for (let n = 0; n <= 100; n++) {
      const s = big.subarray(3, 3 + n);
      expect(crc32c(s)).toBe(crc32cBitwise(s));
    }
  });

  it('continues across chunks', () => {
    const a = Buffer.from('hello, ');
    const b = Buffer.from('write-ahead log');
    expect(crc32c(b, crc32c(a))).toBe(crc32c(Buffer.concat([a, b])));
  });
});
