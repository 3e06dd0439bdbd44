/** Picks the layout for a backend: files under the root for local/NFS, the raw data region for devices. */
import type { StorageBackend } from '../backends/backend.js';
import { ErrorCode, XdbmError } from '../errors.js';
import { DeviceReplica, isRawDevice } from './device-replica.js';
import { FileReplica } from './file-replica.js';
import type { LogReplica } from './replica.js';

export interface ReplicaFactoryOptions {
  segmentBytes: number;
}

export function replicaFor(backend: StorageBackend, logName: string, o: ReplicaFactoryOptions): LogReplica {
  const t = backend.config.target;
  if (t.kind === 'file') return new FileReplica({ endpointId: backend.endpointId, rootDir: t.path, logName, segmentBytes: o.segmentBytes });
  if (t.kind === 'nfs') return new FileReplica({ endpointId: backend.endpointId, rootDir: t.mountPoint, logName, segmentBytes: o.segmentBytes });
  if (isRawDevice(backend)) return new DeviceReplica({ endpointId: backend.endpointId, device: backend, logName });
  throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `backend ${backend.endpointId} (${backend.type}) offers no raw data region for a log`);
}
