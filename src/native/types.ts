/**
 * TypeScript face of the N-API addon (native/, built by node-gyp into build/Release/xdbm_native.node).
 * src/native/binding.ts is the one loader; it also accepts an injected object for tests.
 * Errors thrown by the addon carry `code` (an XDBM_* code from src/errors.ts), `errno` and
 * `syscallCode` ('EIO', 'ENOSPC', ...).
 */
export interface NativeDeviceInfo {
  sizeBytes: number;
  logicalBlockBytes: number;
  physicalBlockBytes: number;
  isBlockDevice: boolean;
}

export interface OpenOptions {
  direct: boolean;
  write: boolean;
  create?: boolean;
}

/** An io_uring workload over a region of an open fd, run to completion inside the addon. */
export interface UringJob {
  op: 'read' | 'write';
  blockBytes: number;
  queueDepth: number;
  /** Region the job may touch: [regionOffsetBytes, regionOffsetBytes + regionLengthBytes). */
  regionOffsetBytes: number;
  regionLengthBytes: number;
  /** Stop after this many operations ... */
  totalOps?: number;
  /** ... or after this long, whichever comes first (at least one must be given). */
  durationMs?: number;
  random: boolean;
  /** Fill byte for writes. */
  fillByte?: number;
  /**
   * Hung-device guard: when operations are in flight and none completes for this long, the job fails
   * with XDBM_IO_TIMEOUT (errno ETIMEDOUT) instead of waiting forever. Unset: wait forever.
   */
  stallTimeoutMs?: number;
}

export interface UringJobResult {
  ops: number;
  errors: number;
  bytes: number;
  elapsedNs: number;
  /** Per-operation completion latency in nanoseconds (length = ops + errors). */
  latenciesNs: Float64Array;
  /** errno of the first failed operation, 0 when none. */
  firstErrno: number;
}

export interface NativeIo {
  open(path: string, opts: OpenOptions): number;
  close(fd: number): void;
  /** Buffer aligned for O_DIRECT (default 4096). */
  allocAligned(lengthBytes: number, alignBytes?: number): Buffer;
  /** Synchronous forms: for use inside worker threads only (they block the calling thread). */
  pwriteSync(fd: number, buf: Uint8Array, offsetBytes: number): number;
  preadSync(fd: number, buf: Uint8Array, offsetBytes: number): number;
  fdatasyncSync(fd: number): void;
  /** Asynchronous forms (libuv thread pool): safe on the main thread. */
  pwrite(fd: number, buf: Uint8Array, offsetBytes: number): Promise<number>;
  pread(fd: number, buf: Uint8Array, offsetBytes: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  /** Size and block size: ioctl BLKGETSIZE64/BLKSSZGET/BLKPBSZGET on devices, fstat on files. */
  deviceInfo(fd: number): NativeDeviceInfo;
  uringRunSync(fd: number, job: UringJob): UringJobResult;
  uringRun(fd: number, job: UringJob): Promise<UringJobResult>;
  /**
   * True when the memory of `buf` (at its byteOffset) starts on an alignBytes boundary, so it can go
   * to O_DIRECT without a bounce copy. Optional so injected fakes need not provide it.
   */
  isAligned?(buf: Uint8Array, alignBytes: number): boolean;
}
