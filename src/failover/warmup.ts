/**
 * Warm-up of a replacement before it joins the active set (seed 5.1 warmup_backend): init, write,
 * read back, verify, delete, all in the probe area (a probe name) through the backend interface.
 */
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';

export const WARMUP_NAME = '_warmup_test';
const WARMUP_DATA = Buffer.from('backend_warmup_test\0', 'latin1');

/** Resolves when the backend is usable; rejects with XDBM_WARMUP_FAILED (cause: the I/O error). */
export async function warmUp(backend: StorageBackend): Promise<void> {
  let step = 'init';
  try {
    await backend.init();
    step = 'write';
    await backend.write(WARMUP_NAME, 0, WARMUP_DATA);
    step = 'sync';
    await backend.sync(WARMUP_NAME);
    step = 'read';
    const back = await backend.read(WARMUP_NAME, 0, WARMUP_DATA.length);
    step = 'verify';
    if (!back.equals(WARMUP_DATA)) throw new XdbmError(ErrorCode.VERIFY_MISMATCH, 'read back different bytes');
    step = 'delete';
    await backend.delete(WARMUP_NAME);
  } catch (e) {
    const cause = fromSystemError(e, `${backend.endpointId}: warm-up ${step}`);
    throw new XdbmError(ErrorCode.WARMUP_FAILED, `warm-up of ${backend.endpointId} failed at ${step}: ${cause.message}`, {
      cause,
      errno: cause.errno,
      syscallCode: cause.syscallCode,
      details: { step, causeCode: cause.code },
    });
  }
}
