/**
 * Basic probe (seed basic_connectivity_check): write a small `health_check_probe` record, read it
 * back, compare, delete. Passes when all four steps do.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import type { ProbeIo } from '../io/types.js';
import type { ProbeContext } from '../probe-context.js';
import { outcomeOf, type ProbeOutcome } from './outcome.js';

export const BASIC_OBJECT = '_health_check_';

export async function basicProbe(io: ProbeIo, ctx: ProbeContext): Promise<ProbeOutcome> {
  // A fresh nonce each time, so a stale copy from an earlier probe cannot pass the comparison.
  const payload = Buffer.from(`health_check_probe ${randomBytes(8).toString('hex')}\n`);
  if (!ctx.timed('write', payload.byteLength, () => io.writeObject(BASIC_OBJECT, payload))) return outcomeOf(ctx);
  let back: Buffer | undefined;
  if (ctx.timed('read', payload.byteLength, () => { back = io.readObject(BASIC_OBJECT, payload.byteLength); })) {
    if (!back!.equals(payload)) {
      ctx.fail(new XdbmError(ErrorCode.VERIFY_MISMATCH, `read back differs from what was written to ${BASIC_OBJECT}`), 'verify');
    }
  }
  ctx.timed('delete', 0, () => io.deleteObject(BASIC_OBJECT));
  return outcomeOf(ctx);
}
