/**
 * One error class with a stable `code` (and errno where the OS gave one). Match on `code`, never on
 * the message or the class: a class does not survive a worker boundary, a code does.
 */
export const ErrorCode = {
  // configuration
  CONFIG_INVALID: 'XDBM_CONFIG_INVALID',
  CONFIG_NOT_FOUND: 'XDBM_CONFIG_NOT_FOUND',
  /** A path that must exist (a backend root, a log directory of a member) does not. */
  NOT_FOUND: 'XDBM_NOT_FOUND',
  BAD_CONNECTION_STRING: 'XDBM_BAD_CONNECTION_STRING',
  // lookups and requests
  UNKNOWN_ENDPOINT: 'XDBM_UNKNOWN_ENDPOINT',
  UNKNOWN_NODE: 'XDBM_UNKNOWN_NODE',
  DUPLICATE_ID: 'XDBM_DUPLICATE_ID',
  NOT_ACTIVE: 'XDBM_NOT_ACTIVE',
  INVALID_ARGUMENT: 'XDBM_INVALID_ARGUMENT',
  NOT_STARTED: 'XDBM_NOT_STARTED',
  CLOSED: 'XDBM_CLOSED',
  // failover
  NO_REPLACEMENT: 'XDBM_NO_REPLACEMENT',
  WARMUP_FAILED: 'XDBM_WARMUP_FAILED',
  FAILOVER_TIMEOUT: 'XDBM_FAILOVER_TIMEOUT',
  // backend I/O
  IO_ERROR: 'XDBM_IO_ERROR',
  IO_TIMEOUT: 'XDBM_IO_TIMEOUT',
  NO_SPACE: 'XDBM_NO_SPACE',
  NOT_MOUNTED: 'XDBM_NOT_MOUNTED',
  STALE_HANDLE: 'XDBM_STALE_HANDLE',
  OUT_OF_PROBE_AREA: 'XDBM_OUT_OF_PROBE_AREA',
  VERIFY_MISMATCH: 'XDBM_VERIFY_MISMATCH',
  CHECKSUM_MISMATCH: 'XDBM_CHECKSUM_MISMATCH',
  // native / libraries
  NATIVE_UNAVAILABLE: 'XDBM_NATIVE_UNAVAILABLE',
  /** io_uring_setup failed (kernel without io_uring, disabled by sysctl/seccomp, out of fds): fall back to pread/pwrite. */
  IO_URING_UNAVAILABLE: 'XDBM_IO_URING_UNAVAILABLE',
  LIBNVME_UNAVAILABLE: 'XDBM_LIBNVME_UNAVAILABLE',
  NVME_ERROR: 'XDBM_NVME_ERROR',
  // probes
  PROBE_TIMEOUT: 'XDBM_PROBE_TIMEOUT',
  PROBE_BUSY: 'XDBM_PROBE_BUSY',
  /** The probe ran but its figures broke the configured limits (maxAcceptableLatencyUs / ErrorRate). */
  PROBE_THRESHOLD: 'XDBM_PROBE_THRESHOLD',
  /** The caller aborted the probe (its AbortSignal) before it finished. */
  PROBE_ABORTED: 'XDBM_PROBE_ABORTED',
  WORKER_CRASHED: 'XDBM_WORKER_CRASHED',
  // write-ahead log
  QUORUM_LOST: 'XDBM_QUORUM_LOST',
  FENCED: 'XDBM_FENCED',
  CAS_CONFLICT: 'XDBM_CAS_CONFLICT',
  ENTRY_NOT_FOUND: 'XDBM_ENTRY_NOT_FOUND',
  LOG_CORRUPT: 'XDBM_LOG_CORRUPT',
  /** A change (node removal, reload) would leave acknowledged log entries with fewer than ackQuorum copies. */
  DATA_AT_RISK: 'XDBM_DATA_AT_RISK',
  // admin surface
  DAEMON_UNREACHABLE: 'XDBM_DAEMON_UNREACHABLE',
  UNAUTHORIZED: 'XDBM_UNAUTHORIZED',
  /** A second daemon on a socket that still answers. */
  DAEMON_ALREADY_RUNNING: 'XDBM_DAEMON_ALREADY_RUNNING',
  /** Malformed admin-protocol frame (not JSON, too long, missing fields). */
  PROTOCOL_ERROR: 'XDBM_PROTOCOL_ERROR',
  /** Alert condition outside the expression grammar; details carry the position. */
  EXPRESSION_INVALID: 'XDBM_EXPRESSION_INVALID',
  /** An unexpected failure inside the daemon (a bug): the message says what. */
  INTERNAL: 'XDBM_INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface XdbmErrorOptions {
  errno?: number;
  /** OS error name such as 'ENOSPC', when the error came from a syscall. */
  syscallCode?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class XdbmError extends Error {
  override name = 'XdbmError';
  readonly code: ErrorCode;
  readonly errno?: number;
  readonly syscallCode?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: XdbmErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    if (opts.errno !== undefined) this.errno = opts.errno;
    if (opts.syscallCode !== undefined) this.syscallCode = opts.syscallCode;
    if (opts.details !== undefined) this.details = opts.details;
  }

  /** Plain object that survives postMessage / JSON; rebuild with XdbmError.fromJSON. */
  toJSON(): { code: ErrorCode; message: string; errno?: number; syscallCode?: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, errno: this.errno, syscallCode: this.syscallCode, details: this.details };
  }

  static fromJSON(o: { code: ErrorCode; message: string; errno?: number; syscallCode?: string; details?: Record<string, unknown> }): XdbmError {
    return new XdbmError(o.code, o.message, { errno: o.errno, syscallCode: o.syscallCode, details: o.details });
  }
}

export function isXdbmError(e: unknown, code?: ErrorCode): e is XdbmError {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' &&
    (e as { code: string }).code.startsWith('XDBM_') && (code === undefined || (e as { code: string }).code === code);
}

/** Maps a Node fs/syscall error to an XdbmError with a stable code, keeping errno. */
export function fromSystemError(e: unknown, what: string): XdbmError {
  if (isXdbmError(e)) return e;
  const err = e as NodeJS.ErrnoException;
  const sys = typeof err?.code === 'string' ? err.code : undefined;
  const code: ErrorCode =
    sys === 'ENOSPC' || sys === 'EDQUOT' ? ErrorCode.NO_SPACE
    : sys === 'ESTALE' ? ErrorCode.STALE_HANDLE
    : sys === 'ETIMEDOUT' ? ErrorCode.IO_TIMEOUT
    : ErrorCode.IO_ERROR;
  const errno = typeof err?.errno === 'number' ? Math.abs(err.errno) : undefined;
  return new XdbmError(code, `${what}: ${err?.message ?? String(e)}`, { errno, syscallCode: sys, cause: e });
}
