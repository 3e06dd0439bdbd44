/**
 * The one place that talks to libnvme (Debian libnvme1 1.3, ABI LIBNVME_1_0..1_3) through koffi.
 *
 * The library is loaded lazily at first use, once per thread (koffi works inside worker threads).
 * Only the functions xdbm uses are declared. Struct layouts follow the 1.3 headers
 * (nvme/fabrics.h `struct nvme_fabrics_config`, nvme/api-types.h `struct nvme_get_log_args`);
 * test/nvme/libnvme.test.ts pins their sizes and offsets.
 *
 * Calls that can block in the kernel (connect, discovery, log pages, scan, delete) are made with
 * koffi's `.async` form on the libuv thread pool; koffi hands back that thread's errno.
 * Every operation builds, uses and frees its own tree (withRoot): trees are never shared between
 * concurrent calls; `withNvmeLock` serializes operations on one target.
 */
import koffi, { type LibraryHandle, type TypeObject } from 'koffi';
import { ErrorCode, XdbmError } from '../errors.js';

export const LIBNVME_SONAME = 'libnvme.so.1';
export const LIBNVME_DEBIAN_PACKAGE = 'libnvme1';

/** Opaque handles: koffi pointers, never dereferenced in JS. */
export type NvmeRoot = unknown;
export type NvmeHost = unknown;
export type NvmeSubsystem = unknown;
export type NvmeCtrl = unknown;
export type NvmeNs = unknown;
export type NvmePath = unknown;
export type CPointer = unknown;

/** JS view of `struct nvme_fabrics_config` (1.3). Times in seconds, as the kernel takes them. */
export interface FabricsConfigStruct {
  host_traddr: string | null;
  host_iface: string | null;
  queue_size: number;
  nr_io_queues: number;
  reconnect_delay: number;
  ctrl_loss_tmo: number;
  fast_io_fail_tmo: number;
  keep_alive_tmo: number;
  nr_write_queues: number;
  nr_poll_queues: number;
  tos: number;
  duplicate_connect: boolean;
  disable_sqflow: boolean;
  hdr_digest: boolean;
  data_digest: boolean;
  tls: boolean;
}

/** JS view of `struct nvme_get_log_args` (1.3). */
export interface GetLogArgsStruct {
  lpo: number;
  result: CPointer | null;
  log: CPointer;
  args_size: number;
  fd: number;
  timeout: number;
  lid: number;
  len: number;
  nsid: number;
  csi: number;
  lsi: number;
  lsp: number;
  uuidx: number;
  rae: boolean;
  ot: boolean;
}

type AsyncFn<A extends unknown[], R> = ((...args: A) => R) & {
  async: (...args: [...A, (err: unknown, res: R) => void]) => void;
};

export interface LibNvme {
  readonly path: string;
  readonly fabricsConfigType: TypeObject;
  readonly getLogArgsType: TypeObject;
  nvme_create_root: (fp: null, logLevel: number) => NvmeRoot | null;
  nvme_free_tree: (r: NvmeRoot) => void;
  nvme_scan_topology: AsyncFn<[NvmeRoot, null, null], number>;
  nvme_first_host: (r: NvmeRoot) => NvmeHost | null;
  nvme_next_host: (r: NvmeRoot, h: NvmeHost) => NvmeHost | null;
  nvme_first_subsystem: (h: NvmeHost) => NvmeSubsystem | null;
  nvme_next_subsystem: (h: NvmeHost, s: NvmeSubsystem) => NvmeSubsystem | null;
  nvme_subsystem_first_ctrl: (s: NvmeSubsystem) => NvmeCtrl | null;
  nvme_subsystem_next_ctrl: (s: NvmeSubsystem, c: NvmeCtrl) => NvmeCtrl | null;
  nvme_ctrl_first_ns: (c: NvmeCtrl) => NvmeNs | null;
  nvme_ctrl_next_ns: (c: NvmeCtrl, n: NvmeNs) => NvmeNs | null;
  nvme_ctrl_first_path: (c: NvmeCtrl) => NvmePath | null;
  nvme_ctrl_next_path: (c: NvmeCtrl, p: NvmePath) => NvmePath | null;
  nvme_path_get_ns: (p: NvmePath) => NvmeNs | null;
  nvme_ctrl_get_name: (c: NvmeCtrl) => string | null;
  nvme_ctrl_get_state: (c: NvmeCtrl) => string | null;
  nvme_ctrl_get_transport: (c: NvmeCtrl) => string | null;
  nvme_ctrl_get_traddr: (c: NvmeCtrl) => string | null;
  nvme_ctrl_get_trsvcid: (c: NvmeCtrl) => string | null;
  nvme_ctrl_get_subsysnqn: (c: NvmeCtrl) => string | null;
  nvme_ns_get_name: (n: NvmeNs) => string | null;
  nvme_ns_get_nsid: (n: NvmeNs) => number;
  nvmf_hostnqn_from_file: () => string | null;
  nvmf_hostnqn_generate: () => string | null;
  nvmf_hostid_from_file: () => string | null;
  nvme_lookup_host: (r: NvmeRoot, hostnqn: string | null, hostid: string | null) => NvmeHost | null;
  nvme_create_ctrl: (
    r: NvmeRoot, subsysnqn: string, transport: string, traddr: string,
    hostTraddr: string | null, hostIface: string | null, trsvcid: string | null,
  ) => NvmeCtrl | null;
  nvmf_default_config: (out: Partial<FabricsConfigStruct>) => void;
  nvmf_add_ctrl: AsyncFn<[NvmeHost, NvmeCtrl, FabricsConfigStruct], number>;
  nvmf_get_discovery_log: AsyncFn<[NvmeCtrl, [CPointer | null], number], number>;
  nvme_scan_ctrl: AsyncFn<[NvmeRoot, string], NvmeCtrl | null>;
  nvme_disconnect_ctrl: AsyncFn<[NvmeCtrl], number>;
  nvme_free_ctrl: (c: NvmeCtrl) => void;
  nvme_get_log: AsyncFn<[GetLogArgsStruct], number>;
}

/** syslog level libnvme filters its own messages with (2 = LOG_CRIT: errors reach us as errno). */
export const LOG_CRIT = 2;

let cached: LibNvme | undefined;
let cachedError: XdbmError | undefined;

/** Path tried first: XDBM_LIBNVME_PATH (tests, unusual installs), else the soname. */
function defaultPath(): string {
  return process.env.XDBM_LIBNVME_PATH || LIBNVME_SONAME;
}

/**
 * Loads libnvme and declares the functions. Without `path`, the result is cached for this thread.
 * Throws XDBM_LIBNVME_UNAVAILABLE (naming the Debian package) when the library cannot be loaded.
 */
export function loadLibnvme(path?: string): LibNvme {
  if (path === undefined) {
    if (cached) return cached;
    if (cachedError) throw cachedError;
  }
  const p = path ?? defaultPath();
  let lib: LibraryHandle;
  try {
    lib = koffi.load(p);
  } catch (e) {
    const err = new XdbmError(
      ErrorCode.LIBNVME_UNAVAILABLE,
      `cannot load ${p}: ${(e as Error).message}; install it with: apt-get install ${LIBNVME_DEBIAN_PACKAGE}`,
      { cause: e, details: { path: p, debianPackage: LIBNVME_DEBIAN_PACKAGE } },
    );
    if (path === undefined) cachedError = err;
    throw err;
  }
  try {
    const api = declare(lib, p);
    if (path === undefined) cached = api;
    return api;
  } catch (e) {
    // A symbol missing: an older or newer ABI than 1.3.
    throw new XdbmError(
      ErrorCode.LIBNVME_UNAVAILABLE,
      `${p} lacks a function xdbm needs (libnvme 1.3 ABI expected): ${(e as Error).message}; ` +
        `install it with: apt-get install ${LIBNVME_DEBIAN_PACKAGE}`,
      { cause: e, details: { path: p, debianPackage: LIBNVME_DEBIAN_PACKAGE } },
    );
  }
}

// koffi type registry is process-wide (per thread): define named types once.
let typesDefined = false;
let fabricsConfigType: TypeObject;
let getLogArgsType: TypeObject;

function defineTypes(): void {
  if (typesDefined) return;
  for (const name of ['nvme_root', 'nvme_host', 'nvme_subsystem', 'nvme_ctrl', 'nvme_ns', 'nvme_path']) {
    koffi.pointer(`${name}_t`, koffi.opaque(name));
  }
  fabricsConfigType = koffi.struct('nvme_fabrics_config', {
    host_traddr: 'char *',
    host_iface: 'char *',
    queue_size: 'int',
    nr_io_queues: 'int',
    reconnect_delay: 'int',
    ctrl_loss_tmo: 'int',
    fast_io_fail_tmo: 'int',
    keep_alive_tmo: 'int',
    nr_write_queues: 'int',
    nr_poll_queues: 'int',
    tos: 'int',
    duplicate_connect: 'bool',
    disable_sqflow: 'bool',
    hdr_digest: 'bool',
    data_digest: 'bool',
    tls: 'bool',
  });
  getLogArgsType = koffi.struct('nvme_get_log_args', {
    lpo: 'uint64_t',
    result: 'uint32_t *',
    log: 'void *',
    args_size: 'int',
    fd: 'int',
    timeout: 'uint32_t',
    lid: 'int', // enum nvme_cmd_get_log_lid
    len: 'uint32_t',
    nsid: 'uint32_t',
    csi: 'int', // enum nvme_csi
    lsi: 'uint16_t',
    lsp: 'uint8_t',
    uuidx: 'uint8_t',
    rae: 'bool',
    ot: 'bool',
  });
  typesDefined = true;
}

function declare(lib: LibraryHandle, path: string): LibNvme {
  defineTypes();
  const f = (proto: string) => lib.func(proto) as never;
  return {
    path,
    fabricsConfigType,
    getLogArgsType,
    nvme_create_root: f('nvme_root_t nvme_create_root(void *fp, int log_level)'),
    nvme_free_tree: f('void nvme_free_tree(nvme_root_t r)'),
    nvme_scan_topology: f('int nvme_scan_topology(nvme_root_t r, void *filter, void *f_args)'),
    nvme_first_host: f('nvme_host_t nvme_first_host(nvme_root_t r)'),
    nvme_next_host: f('nvme_host_t nvme_next_host(nvme_root_t r, nvme_host_t h)'),
    nvme_first_subsystem: f('nvme_subsystem_t nvme_first_subsystem(nvme_host_t h)'),
    nvme_next_subsystem: f('nvme_subsystem_t nvme_next_subsystem(nvme_host_t h, nvme_subsystem_t s)'),
    nvme_subsystem_first_ctrl: f('nvme_ctrl_t nvme_subsystem_first_ctrl(nvme_subsystem_t s)'),
    nvme_subsystem_next_ctrl: f('nvme_ctrl_t nvme_subsystem_next_ctrl(nvme_subsystem_t s, nvme_ctrl_t c)'),
    nvme_ctrl_first_ns: f('nvme_ns_t nvme_ctrl_first_ns(nvme_ctrl_t c)'),
    nvme_ctrl_next_ns: f('nvme_ns_t nvme_ctrl_next_ns(nvme_ctrl_t c, nvme_ns_t n)'),
    nvme_ctrl_first_path: f('nvme_path_t nvme_ctrl_first_path(nvme_ctrl_t c)'),
    nvme_ctrl_next_path: f('nvme_path_t nvme_ctrl_next_path(nvme_ctrl_t c, nvme_path_t p)'),
    nvme_path_get_ns: f('nvme_ns_t nvme_path_get_ns(nvme_path_t p)'),
    nvme_ctrl_get_name: f('const char *nvme_ctrl_get_name(nvme_ctrl_t c)'),
    nvme_ctrl_get_state: f('const char *nvme_ctrl_get_state(nvme_ctrl_t c)'),
    nvme_ctrl_get_transport: f('const char *nvme_ctrl_get_transport(nvme_ctrl_t c)'),
    nvme_ctrl_get_traddr: f('const char *nvme_ctrl_get_traddr(nvme_ctrl_t c)'),
    nvme_ctrl_get_trsvcid: f('const char *nvme_ctrl_get_trsvcid(nvme_ctrl_t c)'),
    nvme_ctrl_get_subsysnqn: f('const char *nvme_ctrl_get_subsysnqn(nvme_ctrl_t c)'),
    nvme_ns_get_name: f('const char *nvme_ns_get_name(nvme_ns_t n)'),
    nvme_ns_get_nsid: f('int nvme_ns_get_nsid(nvme_ns_t n)'),
    // These three return malloc'd strings: '!' makes koffi free them after conversion.
    nvmf_hostnqn_from_file: f('char *! nvmf_hostnqn_from_file()'),
    nvmf_hostnqn_generate: f('char *! nvmf_hostnqn_generate()'),
    nvmf_hostid_from_file: f('char *! nvmf_hostid_from_file()'),
    nvme_lookup_host: f('nvme_host_t nvme_lookup_host(nvme_root_t r, const char *hostnqn, const char *hostid)'),
    nvme_create_ctrl: f(
      'nvme_ctrl_t nvme_create_ctrl(nvme_root_t r, const char *subsysnqn, const char *transport, ' +
        'const char *traddr, const char *host_traddr, const char *host_iface, const char *trsvcid)',
    ),
    nvmf_default_config: f('void nvmf_default_config(_Out_ nvme_fabrics_config *cfg)'),
    nvmf_add_ctrl: f('int nvmf_add_ctrl(nvme_host_t h, nvme_ctrl_t c, const nvme_fabrics_config *cfg)'),
    nvmf_get_discovery_log: f('int nvmf_get_discovery_log(nvme_ctrl_t c, _Out_ void **logp, int max_retries)'),
    nvme_scan_ctrl: f('nvme_ctrl_t nvme_scan_ctrl(nvme_root_t r, const char *name)'),
    nvme_disconnect_ctrl: f('int nvme_disconnect_ctrl(nvme_ctrl_t c)'),
    nvme_free_ctrl: f('void nvme_free_ctrl(nvme_ctrl_t c)'),
    nvme_get_log: f('int nvme_get_log(nvme_get_log_args *args)'),
  };
}

/** Result of a koffi `.async` call together with the errno of the thread that ran it. */
export interface AsyncResult<R> {
  value: R;
  errno: number;
}

/** Runs `fn.async(...args)` on the libuv pool; resolves with the value and that call's errno. */
export function callAsync<A extends unknown[], R>(fn: AsyncFn<A, R>, ...args: A): Promise<AsyncResult<R>> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, value: R) => {
      if (err) reject(err);
      else resolve({ value, errno: koffi.errno() });
    });
  });
}

const chains = new Map<string, Promise<unknown>>();

/**
 * Serializes work under one key within this thread (e.g. one fabrics target), so two callers
 * connecting to the same target share one controller. Each operation builds its own libnvme tree,
 * so work under different keys may run at once: a target that hangs a connect holds up only itself.
 */
export function withNvmeLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(key) ?? Promise.resolve();
  const run = prev.then(fn, fn);
  const tail = run.catch(() => undefined);
  chains.set(key, tail);
  void tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return run;
}

/** Allocates C memory of `lengthBytes` (freed with freeC). */
export function allocC(lengthBytes: number): CPointer {
  return koffi.alloc('uint8_t', lengthBytes);
}

export function freeC(p: CPointer): void {
  koffi.free(p);
}

/** Copies `lengthBytes` of C memory at `p` (+ offsetBytes) into a new Buffer. */
export function copyFromC(p: CPointer, offsetBytes: number, lengthBytes: number): Buffer {
  const view = koffi.view(p, offsetBytes + lengthBytes);
  return Buffer.from(new Uint8Array(view, offsetBytes, lengthBytes));
}

/**
 * Creates a topology root with libnvme logging at `logLevel` (XDBM_LIBNVME_LOG_LEVEL overrides;
 * messages go to stderr), runs `fn`, and always frees the tree.
 */
export async function withRoot<T>(lib: LibNvme, fn: (root: NvmeRoot) => Promise<T>): Promise<T> {
  const env = Number(process.env.XDBM_LIBNVME_LOG_LEVEL);
  const level = Number.isInteger(env) && env >= 0 ? env : LOG_CRIT;
  const root = lib.nvme_create_root(null, level);
  if (!root) {
    throw new XdbmError(ErrorCode.NVME_ERROR, 'nvme_create_root failed (out of memory?)', { errno: koffi.errno() });
  }
  try {
    return await fn(root);
  } finally {
    lib.nvme_free_tree(root);
  }
}
