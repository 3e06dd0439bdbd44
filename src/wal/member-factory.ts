/** Picks the layout for a backend: a directory per copy for local/NFS, the raw data region for devices. */
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError } from '../errors.js';
import { DeviceMember, isRawDevice } from './device-member.js';
import { FileMember } from './file-member.js';
import type { MemberLog } from './member-log.js';

export interface MemberFactoryOptions {
  segmentBytes: number;
  /** Largest single write of the log (device layouts leave a fence gap of this size). */
  maxBatchBytes: number;
}

export function defaultMemberFactory(o: MemberFactoryOptions): (backend: StorageBackend, logName: string) => MemberLog {
  return (backend, logName) => {
    const t = backend.config.target;
    if (t.kind === 'file') return new FileMember({ endpointId: backend.endpointId, rootDir: t.path, logName, segmentBytes: o.segmentBytes });
    if (t.kind === 'nfs') return new FileMember({ endpointId: backend.endpointId, rootDir: t.mountPoint, logName, segmentBytes: o.segmentBytes });
    if (isRawDevice(backend)) return new DeviceMember({ endpointId: backend.endpointId, device: backend, logName, maxBatchBytes: o.maxBatchBytes });
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `backend ${backend.endpointId} (${backend.type}) offers no raw data region for a log`);
  };
}
