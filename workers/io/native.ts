/** The addon as seen from a probe worker: loaded once per thread, or absent (probes then fall back to fs). */
import { loadNative } from '../../src/native/binding.js';
import type { NativeIo } from '../../src/native/types.js';

let tried = false;
let native: NativeIo | undefined;
let whyNot: unknown;

export function tryNative(): NativeIo | undefined {
  if (!tried) {
    tried = true;
    try {
      native = loadNative();
    } catch (e) {
      whyNot = e;
    }
  }
  return native;
}

/** The addon, or the XDBM_NATIVE_UNAVAILABLE error that explains why it is missing. */
export function requireNative(): NativeIo {
  const n = tryNative();
  if (!n) throw whyNot;
  return n;
}

export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}
