// Placeholder until the device layout under the member contract lands (branch wal-dev).
import { ErrorCode, XdbmError } from '../errors.js';
import type { MemberLog } from './member-log.js';
export { isRawDevice, type RawDevice } from './device-replica.js';
export class DeviceMember implements Partial<MemberLog> {
  constructor(_o: unknown) { throw new XdbmError(ErrorCode.INVALID_ARGUMENT, 'device members are not available in this build'); }
}
export type _Unused = MemberLog;
