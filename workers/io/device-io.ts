/**
 * Probe I/O on a byte range of a block device (block, NVMe-oF namespaces) through the addon with
 * O_DIRECT. Every I/O is checked against the probe area [offsetBytes, offsetBytes + lengthBytes)
 * before it is issued (assertInArea): nothing outside it is ever written or read.
 * Object names map to fixed units of the area: `_health_check_` -> unit 0, `_perf_test_N` -> unit 1 + N,
 * anything else -> a unit chosen by a hash of the name, all modulo the units that fit.
 */
import type { ProbeTarget } from '../../src/backends/backend.js';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import type { NativeIo } from '../../src/native/types.js';
import type { ProbeContext } from '../probe-context.js';
import { requireNative, roundUp } from './native.js';
import type { ProbeIo, ProbeRegion, StressJob, StressOutcome } from './types.js';

type DeviceTarget = Extract<ProbeTarget, { kind: 'device' }>;

const MIN_UNIT_BYTES = 4096;

export class DeviceIo implements ProbeIo {
  readonly direct = true;
  readonly alignBytes: number;
  readonly #t: DeviceTarget;
  readonly #n: NativeIo;
  readonly #fd: number;
  readonly #units: number;
  /** Buffers handed out by alloc(): aligned in address and length, usable for O_DIRECT as they are. */
  readonly #aligned = new WeakSet<ArrayBufferLike>();

  constructor(target: DeviceTarget, native: NativeIo = requireNative()) {
    this.#t = target;
    this.#n = native;
    const lb = target.logicalBlockBytes > 0 ? target.logicalBlockBytes : 512;
    this.alignBytes = roundUp(Math.max(MIN_UNIT_BYTES, lb), lb);
    if (target.offsetBytes < 0 || target.lengthBytes < this.alignBytes || target.offsetBytes % lb !== 0 ||
        target.lengthBytes % lb !== 0) {
      throw new XdbmError(ErrorCode.OUT_OF_PROBE_AREA,
        `probe area [${target.offsetBytes}, +${target.lengthBytes}) of ${target.devicePath} is empty or not aligned to ${lb} bytes`);
    }
    this.#units = Math.floor(target.lengthBytes / this.alignBytes);
    this.#fd = native.open(target.devicePath, { direct: true, write: true });
    try {
      const info = native.deviceInfo(this.#fd);
      if (target.offsetBytes + target.lengthBytes > info.sizeBytes) {
        throw new XdbmError(ErrorCode.OUT_OF_PROBE_AREA,
          `probe area ends at ${target.offsetBytes + target.lengthBytes}, past the end of ${target.devicePath} (${info.sizeBytes} bytes)`);
      }
    } catch (e) {
      native.close(this.#fd);
      throw e;
    }
  }

  /** Throws XDBM_OUT_OF_PROBE_AREA unless [offsetBytes, offsetBytes + lengthBytes) lies inside the probe area. */
  assertInArea(offsetBytes: number, lengthBytes: number): void {
    const a = this.#t.offsetBytes;
    const end = a + this.#t.lengthBytes;
    if (!(Number.isSafeInteger(offsetBytes) && Number.isSafeInteger(lengthBytes)) || lengthBytes <= 0 ||
        offsetBytes < a || offsetBytes + lengthBytes > end) {
      throw new XdbmError(ErrorCode.OUT_OF_PROBE_AREA,
        `I/O [${offsetBytes}, +${lengthBytes}) is outside the probe area [${a}, ${end}) of ${this.#t.devicePath}`,
        { details: { offsetBytes, lengthBytes, areaOffsetBytes: a, areaLengthBytes: this.#t.lengthBytes } });
    }
  }

  /** Byte offset of the object's first unit. */
  offsetOf(name: string, lengthBytes: number): number {
    const need = Math.ceil(lengthBytes / this.alignBytes);
    if (need > this.#units) {
      throw new XdbmError(ErrorCode.OUT_OF_PROBE_AREA, `object ${name} (${lengthBytes} bytes) does not fit the probe area`);
    }
    let idx: number;
    const perf = /^_perf_test_(\d+)$/.exec(name);
    if (name === '_health_check_') idx = 0;
    else if (perf) idx = 1 + Number(perf[1]);
    else {
      let h = 0;
      for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
      idx = h;
    }
    const slots = this.#units - need + 1;
    return this.#t.offsetBytes + (idx % slots) * this.alignBytes;
  }

  alloc(lengthBytes: number): Buffer {
    const b = this.#n.allocAligned(roundUp(Math.max(1, lengthBytes), this.alignBytes), this.alignBytes);
    this.#aligned.add(b.buffer);
    return b;
  }

  #copyAligned(data: Uint8Array): Buffer {
    const buf = this.alloc(data.byteLength);
    buf.set(data);
    if (buf.byteLength > data.byteLength) buf.fill(0, data.byteLength);
    return buf;
  }

  #pwriteAll(buf: Buffer, off: number): void {
    this.assertInArea(off, buf.byteLength);
    const w = this.#n.pwriteSync(this.#fd, buf, off);
    if (w !== buf.byteLength) {
      throw new XdbmError(ErrorCode.IO_ERROR, `short write on ${this.#t.devicePath} at ${off}: ${w} of ${buf.byteLength} bytes`);
    }
  }

  writeObject(name: string, data: Uint8Array): void {
    const off = this.offsetOf(name, data.byteLength);
    // A whole-unit slice at the start of a buffer from alloc() goes as it is; anything else is copied.
    const reuse = Buffer.isBuffer(data) && this.#aligned.has(data.buffer) && data.byteOffset % this.alignBytes === 0 &&
      data.byteLength % this.alignBytes === 0;
    const buf = reuse ? (data as Buffer) : this.#copyAligned(data);
    this.#pwriteAll(buf, off);
    this.#n.fdatasyncSync(this.#fd);
  }

  readObject(name: string, lengthBytes: number): Buffer {
    const off = this.offsetOf(name, lengthBytes);
    const buf = this.alloc(lengthBytes);
    this.assertInArea(off, buf.byteLength);
    const r = this.#n.preadSync(this.#fd, buf, off);
    if (r < lengthBytes) {
      throw new XdbmError(ErrorCode.IO_ERROR, `short read on ${this.#t.devicePath} at ${off}: ${r} of ${lengthBytes} bytes`);
    }
    return Buffer.from(buf.subarray(0, lengthBytes));
  }

  /** A device's probe objects are already in-place writes: unit k of the region is object `<name>_<k>`. */
  region(name: string, _lengthBytes: number): ProbeRegion {
    return {
      write: (offsetBytes, data) => this.writeObject(`${name}_${Math.floor(offsetBytes / this.alignBytes)}`, data),
      close: () => undefined,
    };
  }

  /** Zeroes the object's first unit: the probe leaves no test pattern behind. */
  deleteObject(name: string): void {
    const off = this.offsetOf(name, 1);
    this.#pwriteAll(this.alloc(this.alignBytes).fill(0), off);
  }

  async stress(job: StressJob, ctx: ProbeContext): Promise<StressOutcome> {
    ctx.check('stress');
    const blockBytes = roundUp(Math.max(job.blockBytes, this.alignBytes), this.alignBytes);
    this.assertInArea(this.#t.offsetBytes, this.#t.lengthBytes);
    const r = this.#n.uringRunSync(this.#fd, {
      op: 'write', blockBytes, queueDepth: job.queueDepth, regionOffsetBytes: this.#t.offsetBytes,
      regionLengthBytes: this.#t.lengthBytes, durationMs: job.durationMs, random: true, fillByte: 0,
      // A device that stops completing fails the job at the probe's deadline instead of pinning this thread.
      stallTimeoutMs: Math.max(1, ctx.remainingMs()),
    });
    const latenciesUs: number[] = [];
    for (let i = 0; i < r.latenciesNs.length; i++) latenciesUs.push(r.latenciesNs[i]! / 1000);
    return {
      ops: r.ops, errors: r.errors, bytes: r.bytes, elapsedUs: r.elapsedNs / 1000, latenciesUs,
      firstErrno: r.firstErrno, engine: 'io_uring-direct',
    };
  }

  close(): void {
    this.#n.close(this.#fd);
  }
}
