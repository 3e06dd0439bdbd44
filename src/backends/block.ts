/**
 * Raw block device backend (block:///dev/...), doing O_DIRECT I/O through the native addon's
 * asynchronous calls (libuv pool), so the main thread never blocks on the device.
 *
 * Device layout (bytes, every boundary aligned to the logical block size):
 *
 *   [0, probeStart)                    data region: the write-ahead log (writeRaw/readRaw/flush)
 *   [probeStart, slotsEnd)             name slots: write/read/delete by name (warm-up, basic probe)
 *   [slotsEnd, end)                    probe I/O range handed to the Piscina workers (probeTarget)
 *
 * where [probeStart, end) is the last `probeAreaBytes` of the device. Probe-side methods refuse to
 * touch the data region (XDBM_OUT_OF_PROBE_AREA) and raw methods refuse the probe area
 * (XDBM_INVALID_ARGUMENT). Each name maps by hash to a 64 KiB slot (linear probing over a few
 * neighbours); the slot's first logical block is a header with the name, the data length and a
 * CRC32, so reading a name that was never written or was deleted fails cleanly.
 *
 * NVMe-oF (nvmeof.ts) reuses this class: override resolveDevicePath() (connect, find /dev/nvmeXnY)
 * and releaseDevice() (disconnect).
 */
import { crc32 } from 'node:zlib';
import type { EndpointConfig } from '../config/types.js';
import { ErrorCode, XdbmError } from '../errors.js';
import { loadNative } from '../native/binding.js';
import type { NativeDeviceInfo, NativeIo } from '../native/types.js';
import { BackendBase, type BackendHealthInfo, type ProbeTarget, type StorageBackend } from './backend.js';
import { withIoTimeout } from './io-timeout.js';

/** Size of one name slot. */
export const SLOT_BYTES = 64 * 1024;
/** Slots tried from a name's home slot before the home slot is reused (probe data is disposable). */
export const SLOT_PROBE_LIMIT = 8;
/** At most this many slots; the rest of the probe area goes to the workers. */
export const MAX_SLOTS = 16;
/** Alignment of buffers handed to O_DIRECT. */
const MEM_ALIGN_BYTES = 4096;
/** How long close() waits for in-flight operations when the endpoint sets no ioTimeoutMs. */
export const CLOSE_WAIT_MS = 10_000;

const SLOT_MAGIC = Buffer.from('XDBMSLT1', 'latin1');
const SLOT_LIVE = 1;
const SLOT_DELETED = 2;
/** Header: magic(8) state(1) pad(1) nameLen(2) dataLengthBytes(4) crc32(4) name(nameLen). */
const HDR_FIXED_BYTES = 20;
const MAX_NAME_BYTES = 400;

/** The raw region the write-ahead log may use (everything before the probe area). */
export interface DataRegion {
  offsetBytes: 0;
  lengthBytes: number;
  logicalBlockBytes: number;
}

/** What a device-backed log replica needs from a backend (BlockBackend, NvmeofBackend). */
export interface RawDevice {
  dataRegion(): DataRegion;
  writeRaw(offsetBytes: number, data: Uint8Array): Promise<void>;
  readRaw(offsetBytes: number, lengthBytes: number): Promise<Buffer>;
  flush(): Promise<void>;
}

/** Byte layout of an open device (see the file comment). */
export interface DeviceLayout {
  sizeBytes: number;
  logicalBlockBytes: number;
  physicalBlockBytes: number;
  isBlockDevice: boolean;
  probeStartBytes: number;
  slotsStartBytes: number;
  slotCount: number;
  workerStartBytes: number;
  endBytes: number;
}

interface SlotHeader {
  state: typeof SLOT_LIVE | typeof SLOT_DELETED;
  name: string;
  dataLengthBytes: number;
}

const alignDown = (v: number, a: number): number => Math.floor(v / a) * a;
const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

/** Stable 32-bit FNV-1a of the UTF-8 bytes of a name. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Computes the layout for a device of `info` with `probeAreaBytes` reserved at its end. */
export function computeLayout(info: NativeDeviceInfo, probeAreaBytes: number, endpointId = ''): DeviceLayout {
  const lbs = info.logicalBlockBytes;
  const endBytes = alignDown(info.sizeBytes, lbs);
  const probeStartBytes = alignDown(Math.max(0, endBytes - probeAreaBytes), lbs);
  const probeLen = endBytes - probeStartBytes;
  if (!(probeAreaBytes > 0) || probeLen < 2 * SLOT_BYTES || probeStartBytes === 0) {
    throw new XdbmError(
      ErrorCode.CONFIG_INVALID,
      `${endpointId}: probe area of ${probeAreaBytes} bytes does not fit a ${info.sizeBytes}-byte device ` +
        `(needs at least ${2 * SLOT_BYTES} bytes and must leave a data region)`,
      { details: { probeAreaBytes, sizeBytes: info.sizeBytes } },
    );
  }
  const slotCount = Math.min(MAX_SLOTS, Math.max(1, Math.floor(probeLen / 4 / SLOT_BYTES)));
  return {
    sizeBytes: info.sizeBytes,
    logicalBlockBytes: lbs,
    physicalBlockBytes: info.physicalBlockBytes,
    isBlockDevice: info.isBlockDevice,
    probeStartBytes,
    slotsStartBytes: probeStartBytes,
    slotCount,
    workerStartBytes: probeStartBytes + slotCount * SLOT_BYTES,
    endBytes,
  };
}

function checkRange(what: string, offsetBytes: number, lengthBytes: number): void {
  if (!Number.isSafeInteger(offsetBytes) || offsetBytes < 0 || !Number.isSafeInteger(lengthBytes) || lengthBytes < 0) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `${what}: invalid range offset=${offsetBytes} length=${lengthBytes}`);
  }
}

function checkName(name: string): Buffer {
  const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : Buffer.alloc(0);
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES || name.includes('\0')) {
    throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `invalid object name ${JSON.stringify(name)} (1..${MAX_NAME_BYTES} UTF-8 bytes, no NUL)`);
  }
  return bytes;
}

export class BlockBackend extends BackendBase implements RawDevice {
  protected native?: NativeIo;
  protected fd = -1;
  protected devicePath = '';
  protected layoutInfo?: DeviceLayout;
  /** Slot headers seen or written since init (this process is the only writer of the slots). */
  readonly #slotCache = new Map<number, SlotHeader | null>();
  /** Name-based operations run one at a time (they read-modify-write slot headers). */
  #slotQueue: Promise<unknown> = Promise.resolve();
  /** Device operations in flight: close waits for them, so a queued pwrite never hits a reused fd. */
  readonly #inflight = new Set<Promise<unknown>>();
  /** fds left open because an operation on them never returned (a hung device). */
  #leakedFds: number[] = [];

  constructor(config: EndpointConfig, native?: NativeIo) {
    super(config);
    this.native = native;
  }

  /** Path of the block device to open. NVMe-oF overrides this (connect, then find /dev/nvmeXnY). */
  protected async resolveDevicePath(): Promise<string> {
    const t = this.config.target;
    if (t.kind !== 'block') {
      throw new XdbmError(ErrorCode.CONFIG_INVALID, `block backend ${this.endpointId} needs a block:// target, got ${t.kind}`);
    }
    return t.devicePath;
  }

  /** Called by close() after the fd is closed. NVMe-oF overrides this (disconnect). */
  protected async releaseDevice(): Promise<void> {}

  protected override async doInit(): Promise<void> {
    const native = (this.native ??= loadNative());
    const path = await this.resolveDevicePath();
    const fd = native.open(path, { direct: true, write: true });
    try {
      const info = native.deviceInfo(fd);
      this.layoutInfo = computeLayout(info, this.config.probeAreaBytes, this.endpointId);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    this.fd = fd;
    this.devicePath = path;
    this.#slotCache.clear();
    this.#inflight.clear(); // what is still stuck belongs to an earlier fd, left open by doClose
  }

  protected override async doClose(): Promise<void> {
    const fd = this.fd;
    this.fd = -1;
    try {
      if (fd >= 0 && (await this.#drain(this.config.ioTimeoutMs ?? CLOSE_WAIT_MS))) this.native?.close(fd);
      else if (fd >= 0) this.#leakedFds.push(fd);
    } finally {
      await this.releaseDevice();
    }
  }

  /** Waits for in-flight device operations; false when some are still stuck after waitMs. */
  async #drain(waitMs: number): Promise<boolean> {
    if (this.#inflight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const settled = Promise.allSettled([...this.#inflight]).then(() => true);
    const late = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), waitMs); });
    try {
      return await Promise.race([settled, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Layout of the open device. */
  layout(): DeviceLayout {
    this.assertOpen();
    return this.layoutInfo!;
  }

  // ---- raw data region (write-ahead log) ----

  dataRegion(): DataRegion {
    const l = this.layout();
    return { offsetBytes: 0, lengthBytes: l.probeStartBytes, logicalBlockBytes: l.logicalBlockBytes };
  }

  /** Writes `data` at `offsetBytes` of the data region; both aligned to the logical block size. */
  async writeRaw(offsetBytes: number, data: Uint8Array): Promise<void> {
    const l = this.layout();
    this.#checkRaw('writeRaw', offsetBytes, data.byteLength, true);
    const buf = this.#aligned(data, l.logicalBlockBytes);
    await this.#io(`writeRaw at ${offsetBytes}`, () => this.native!.pwrite(this.fd, buf, offsetBytes));
  }

  /** Reads from the data region; unaligned ranges are read through an aligned bounce buffer. */
  async readRaw(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    const l = this.layout();
    this.#checkRaw('readRaw', offsetBytes, lengthBytes, false);
    const start = alignDown(offsetBytes, l.logicalBlockBytes);
    const end = alignUp(offsetBytes + lengthBytes, l.logicalBlockBytes);
    const buf = this.native!.allocAligned(Math.max(end - start, l.logicalBlockBytes), MEM_ALIGN_BYTES).subarray(0, end - start);
    const n = await this.#io(`readRaw at ${offsetBytes}`, () => this.native!.pread(this.fd, buf, start));
    if (n < end - start) {
      throw new XdbmError(ErrorCode.IO_ERROR, `${this.endpointId}: readRaw at ${start}: short read of ${n} of ${end - start} bytes`);
    }
    return start === offsetBytes && end === offsetBytes + lengthBytes ? buf : buf.subarray(offsetBytes - start, offsetBytes - start + lengthBytes);
  }

  /** fdatasync of the device: earlier writeRaw calls are durable when it resolves. */
  async flush(): Promise<void> {
    this.assertOpen();
    await this.#io('flush', () => this.native!.fdatasync(this.fd));
  }

  #checkRaw(what: string, offsetBytes: number, lengthBytes: number, mustAlign: boolean): void {
    const l = this.layoutInfo!;
    checkRange(`${this.endpointId}: ${what}`, offsetBytes, lengthBytes);
    const lbs = l.logicalBlockBytes;
    if (mustAlign && (offsetBytes % lbs !== 0 || lengthBytes % lbs !== 0)) {
      throw new XdbmError(
        ErrorCode.INVALID_ARGUMENT,
        `${this.endpointId}: ${what} offset ${offsetBytes} and length ${lengthBytes} must be multiples of ${lbs} bytes`,
        { errno: 22, syscallCode: 'EINVAL' },
      );
    }
    if (offsetBytes + lengthBytes > l.probeStartBytes) {
      throw new XdbmError(
        ErrorCode.INVALID_ARGUMENT,
        `${this.endpointId}: ${what} [${offsetBytes}, ${offsetBytes + lengthBytes}) would touch the probe area starting at ${l.probeStartBytes}`,
        { details: { offsetBytes, lengthBytes, dataRegionBytes: l.probeStartBytes } },
      );
    }
  }

  // ---- probe area ----

  probeTarget(): ProbeTarget {
    const l = this.layout();
    return {
      kind: 'device',
      endpointId: this.endpointId,
      type: this.type,
      devicePath: this.devicePath,
      offsetBytes: l.workerStartBytes,
      lengthBytes: l.endBytes - l.workerStartBytes,
      logicalBlockBytes: l.logicalBlockBytes,
    };
  }

  /** Byte range of a name's payload capacity in its slot. */
  slotCapacityBytes(): number {
    return SLOT_BYTES - this.layout().logicalBlockBytes;
  }

  async write(name: string, offsetBytes: number, data: Uint8Array): Promise<void> {
    this.assertOpen();
    const nameBytes = checkName(name);
    checkRange(`${this.endpointId}: write ${name}`, offsetBytes, data.byteLength);
    this.#checkSlotRange(name, offsetBytes, data.byteLength);
    await this.#serial(async () => {
      const l = this.layoutInfo!;
      const lbs = l.logicalBlockBytes;
      const found = await this.#find(name);
      const slot = found ?? (await this.#freeSlot(name));
      const old = found !== undefined ? this.#slotCache.get(found)! : null;
      const oldLen = old && old.state === SLOT_LIVE ? old.dataLengthBytes : 0;
      const newLen = Math.max(oldLen, offsetBytes + data.byteLength);
      // One aligned write from the slot start: header, then payload up to the end of the new data.
      const spanBytes = alignUp(lbs + offsetBytes + data.byteLength, lbs);
      const base = this.#slotOffset(slot);
      const buf = this.native!.allocAligned(spanBytes, MEM_ALIGN_BYTES);
      const keepOld = oldLen > 0 && (offsetBytes > 0 || oldLen > offsetBytes + data.byteLength);
      if (keepOld) {
        await this.#preadFull(`read slot of ${name}`, buf, base);
      }
      buf.fill(0, 0, lbs);
      this.#encodeHeader(buf, SLOT_LIVE, nameBytes, newLen);
      buf.set(data, lbs + offsetBytes);
      if (!keepOld) buf.fill(0, lbs + offsetBytes + data.byteLength);
      await this.#io(`write ${name}`, () => this.native!.pwrite(this.fd, buf, base));
      this.#slotCache.set(slot, { state: SLOT_LIVE, name, dataLengthBytes: newLen });
    });
  }

  async read(name: string, offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    this.assertOpen();
    checkName(name);
    checkRange(`${this.endpointId}: read ${name}`, offsetBytes, lengthBytes);
    this.#checkSlotRange(name, offsetBytes, lengthBytes);
    return this.#serial(async () => {
      const slot = await this.#find(name);
      if (slot === undefined) {
        throw new XdbmError(ErrorCode.IO_ERROR, `${this.endpointId}: read ${name}: no such object in the probe area`, {
          errno: 2,
          syscallCode: 'ENOENT',
        });
      }
      const h = this.#slotCache.get(slot)!;
      if (offsetBytes + lengthBytes > h.dataLengthBytes) {
        throw new XdbmError(
          ErrorCode.IO_ERROR,
          `${this.endpointId}: read ${name} past end of object at ${h.dataLengthBytes}`,
          { details: { offsetBytes, lengthBytes, objectBytes: h.dataLengthBytes } },
        );
      }
      const lbs = this.layoutInfo!.logicalBlockBytes;
      const start = alignDown(lbs + offsetBytes, lbs);
      const end = alignUp(lbs + offsetBytes + lengthBytes, lbs);
      const buf = this.native!.allocAligned(Math.max(end - start, lbs), MEM_ALIGN_BYTES).subarray(0, end - start);
      await this.#preadFull(`read ${name}`, buf, this.#slotOffset(slot) + start);
      const from = lbs + offsetBytes - start;
      return Buffer.from(buf.subarray(from, from + lengthBytes));
    });
  }

  /** Marks the name's slot deleted; deleting a missing name is not an error. */
  async delete(name: string): Promise<void> {
    this.assertOpen();
    const nameBytes = checkName(name);
    await this.#serial(async () => {
      const slot = await this.#find(name);
      if (slot === undefined) return;
      const lbs = this.layoutInfo!.logicalBlockBytes;
      const buf = this.native!.allocAligned(lbs, MEM_ALIGN_BYTES);
      this.#encodeHeader(buf, SLOT_DELETED, nameBytes, 0);
      await this.#io(`delete ${name}`, () => this.native!.pwrite(this.fd, buf, this.#slotOffset(slot)));
      this.#slotCache.set(slot, { state: SLOT_DELETED, name, dataLengthBytes: 0 });
    });
  }

  /** fdatasync of the device (covers every name and the data region). */
  async sync(_name?: string): Promise<void> {
    this.assertOpen();
    await this.#io('sync', () => this.native!.fdatasync(this.fd));
  }

  override async healthInfo(): Promise<BackendHealthInfo> {
    const l = this.layoutInfo;
    if (!this.isOpen || !l) return {};
    return {
      devicePath: this.devicePath,
      sizeBytes: l.sizeBytes,
      logicalBlockBytes: l.logicalBlockBytes,
      physicalBlockBytes: l.physicalBlockBytes,
      isBlockDevice: l.isBlockDevice,
      dataRegionBytes: l.probeStartBytes,
      probeAreaBytes: l.endBytes - l.probeStartBytes,
      ...(this.#leakedFds.length ? { stuckFdsLeftOpen: this.#leakedFds.length } : {}),
    };
  }

  // ---- internals ----

  #checkSlotRange(name: string, offsetBytes: number, lengthBytes: number): void {
    const cap = this.slotCapacityBytes();
    if (offsetBytes + lengthBytes > cap) {
      throw new XdbmError(
        ErrorCode.OUT_OF_PROBE_AREA,
        `${this.endpointId}: ${name} [${offsetBytes}, ${offsetBytes + lengthBytes}) exceeds its ${cap}-byte probe slot`,
        { details: { offsetBytes, lengthBytes, slotCapacityBytes: cap } },
      );
    }
  }

  #slotOffset(slot: number): number {
    const l = this.layoutInfo!;
    const off = l.slotsStartBytes + slot * SLOT_BYTES;
    // Defence in depth: nothing name-based may leave the probe area.
    if (slot < 0 || slot >= l.slotCount || off < l.probeStartBytes || off + SLOT_BYTES > l.workerStartBytes) {
      throw new XdbmError(ErrorCode.OUT_OF_PROBE_AREA, `${this.endpointId}: slot ${slot} outside the probe area`);
    }
    return off;
  }

  /** Slots to try for a name, home slot first. */
  #candidates(name: string): number[] {
    const n = this.layoutInfo!.slotCount;
    const home = nameHash(name) % n;
    const out: number[] = [];
    for (let i = 0; i < Math.min(SLOT_PROBE_LIMIT, n); i++) out.push((home + i) % n);
    return out;
  }

  async #header(slot: number): Promise<SlotHeader | null> {
    if (this.#slotCache.has(slot)) return this.#slotCache.get(slot)!;
    const lbs = this.layoutInfo!.logicalBlockBytes;
    const buf = this.native!.allocAligned(lbs, MEM_ALIGN_BYTES);
    await this.#preadFull(`read slot ${slot} header`, buf, this.#slotOffset(slot));
    const h = decodeHeader(buf);
    this.#slotCache.set(slot, h);
    return h;
  }

  /** Slot holding the live object `name`, or undefined. Stops at a never-used slot. */
  async #find(name: string): Promise<number | undefined> {
    for (const s of this.#candidates(name)) {
      const h = await this.#header(s);
      if (h === null) return undefined;
      if (h.state === SLOT_LIVE && h.name === name) return s;
    }
    return undefined;
  }

  /** First deleted or never-used slot along the name's sequence; the home slot when all are taken. */
  async #freeSlot(name: string): Promise<number> {
    const cands = this.#candidates(name);
    for (const s of cands) {
      const h = await this.#header(s);
      if (h === null || h.state === SLOT_DELETED) return s;
    }
    return cands[0]!;
  }

  #encodeHeader(buf: Buffer, state: number, nameBytes: Buffer, dataLengthBytes: number): void {
    SLOT_MAGIC.copy(buf, 0);
    buf.writeUInt8(state, 8);
    buf.writeUInt8(0, 9);
    buf.writeUInt16LE(nameBytes.length, 10);
    buf.writeUInt32LE(dataLengthBytes, 12);
    nameBytes.copy(buf, HDR_FIXED_BYTES);
    buf.writeUInt32LE(headerCrc(buf, nameBytes.length), 16);
  }

  /** Returns `data` if the addon says it is aligned, else an aligned copy. */
  #aligned(data: Uint8Array, lbs: number): Uint8Array {
    const n = this.native!;
    if (n.isAligned?.(data, Math.max(lbs, 512))) return data;
    const buf = n.allocAligned(Math.max(data.byteLength, lbs), MEM_ALIGN_BYTES).subarray(0, data.byteLength);
    buf.set(data);
    return buf;
  }

  async #preadFull(what: string, buf: Buffer, offsetBytes: number): Promise<void> {
    const n = await this.#io(what, () => this.native!.pread(this.fd, buf, offsetBytes));
    if (n < buf.byteLength) {
      throw new XdbmError(ErrorCode.IO_ERROR, `${this.endpointId}: ${what}: short read of ${n} of ${buf.byteLength} bytes at ${offsetBytes}`);
    }
  }

  async #io<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.fd < 0) throw new XdbmError(ErrorCode.CLOSED, `${this.endpointId}: ${what}: backend closed`);
    const op = fn();
    this.#inflight.add(op);
    op.then(() => this.#inflight.delete(op), () => this.#inflight.delete(op));
    try {
      return await withIoTimeout(op, this.config.ioTimeoutMs, `${this.endpointId}: ${what}`);
    } catch (e) {
      if (e instanceof XdbmError) {
        if (e.message.startsWith(this.endpointId)) throw e;
        throw new XdbmError(e.code, `${this.endpointId}: ${what}: ${e.message}`, {
          errno: e.errno, syscallCode: e.syscallCode, details: e.details, cause: e,
        });
      }
      throw e;
    }
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#slotQueue.then(fn, fn);
    this.#slotQueue = run.catch(() => undefined);
    return run;
  }
}

function headerCrc(buf: Buffer, nameLen: number): number {
  return crc32(buf.subarray(HDR_FIXED_BYTES, HDR_FIXED_BYTES + nameLen), crc32(buf.subarray(0, 16))) >>> 0;
}

function decodeHeader(buf: Buffer): SlotHeader | null {
  if (!buf.subarray(0, 8).equals(SLOT_MAGIC)) return null;
  const state = buf.readUInt8(8);
  const nameLen = buf.readUInt16LE(10);
  if ((state !== SLOT_LIVE && state !== SLOT_DELETED) || nameLen === 0 || nameLen > MAX_NAME_BYTES) return null;
  if (buf.readUInt32LE(16) !== headerCrc(buf, nameLen)) return null;
  return {
    state,
    name: buf.subarray(HDR_FIXED_BYTES, HDR_FIXED_BYTES + nameLen).toString('utf8'),
    dataLengthBytes: buf.readUInt32LE(12),
  };
}

/** True when a backend offers the raw data region (block and NVMe-oF). */
export function isRawDevice(b: unknown): b is RawDevice {
  const o = b as Partial<RawDevice> | null;
  return !!o && typeof o.dataRegion === 'function' && typeof o.writeRaw === 'function' &&
    typeof o.readRaw === 'function' && typeof o.flush === 'function';
}

export function create(config: EndpointConfig): StorageBackend {
  return new BlockBackend(config);
}
