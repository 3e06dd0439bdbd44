/**
 * The one loader of the N-API addon (build/Release/xdbm_native.node), in the manner of better-sqlite3's
 * lib/binding.js: it finds the package root by walking up from this file (works from src/ under vitest,
 * from dist/src/ once compiled, and inside worker threads), loads the addon once per thread, and wraps
 * every method so that an error thrown by C++ arrives as an XdbmError with code, errno and syscallCode.
 *
 * Tests may inject any object implementing NativeIo with setNativeForTesting().
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, XdbmError } from '../errors.js';
import type { NativeIo, UringJob } from './types.js';

const PACKAGE_NAME = 'xdevice-backend-manager';
const ADDON_FILE = 'xdbm_native.node';
/** Overrides the addon path (absolute path of a .node file), e.g. for a Debug build. */
export const NATIVE_PATH_ENV = 'XDBM_NATIVE_PATH';

let cached: NativeIo | undefined;
let injected: NativeIo | null = null;

/** Directory holding this package's package.json, found by walking up from `fromDir`. */
export function findPackageRoot(fromDir: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  let dir = fromDir;
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        const name = (JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown }).name;
        if (name === PACKAGE_NAME) return dir;
      } catch {
        // an unreadable package.json on the way up is not ours: keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Where the addon is looked for, in order. */
export function addonCandidates(): string[] {
  const out: string[] = [];
  const fromEnv = process.env[NATIVE_PATH_ENV];
  if (fromEnv) out.push(fromEnv);
  const root = findPackageRoot();
  if (root) {
    out.push(join(root, 'build', 'Release', ADDON_FILE));
    out.push(join(root, 'build', 'Debug', ADDON_FILE));
  }
  return out;
}

/** Absolute path of the compiled addon, or undefined when it was never built. */
export function addonPath(candidates: string[] = addonCandidates()): string | undefined {
  return candidates.find((p) => existsSync(p));
}

const FIX_HINT = 'run `npm ci` (needs g++ and make) or `npx node-gyp rebuild --nodedir=/usr` in the package root';

/** Loads the raw addon (errors from it are plain Errors with code/errno/syscallCode properties). */
export function loadRawNative(candidates: string[] = addonCandidates()): NativeIo {
  const path = addonPath(candidates);
  if (!path) {
    throw new XdbmError(
      ErrorCode.NATIVE_UNAVAILABLE,
      `native addon ${ADDON_FILE} not found (looked at ${candidates.join(', ') || 'no package root'}): ${FIX_HINT}`,
      { details: { candidates } },
    );
  }
  let mod: unknown;
  try {
    mod = createRequire(import.meta.url)(path);
  } catch (e) {
    throw new XdbmError(
      ErrorCode.NATIVE_UNAVAILABLE,
      `native addon ${path} failed to load (${(e as Error)?.message ?? String(e)}): ${FIX_HINT}`,
      { cause: e, details: { path } },
    );
  }
  // Like a checker loader that rejects a plug-in missing an entry point: a stale build is unusable.
  const missing = REQUIRED_METHODS.filter((m) => typeof (mod as Record<string, unknown> | null)?.[m] !== 'function');
  if (missing.length) {
    throw new XdbmError(
      ErrorCode.NATIVE_UNAVAILABLE,
      `native addon ${path} lacks ${missing.join(', ')} (stale build?): ${FIX_HINT}`,
      { details: { path, missing } },
    );
  }
  return mod as NativeIo;
}

/** Methods every build of the addon must export (NativeIo minus the optional ones). */
export const REQUIRED_METHODS = [
  'open', 'close', 'allocAligned', 'pwriteSync', 'preadSync', 'fdatasyncSync', 'pwrite', 'pread', 'fdatasync',
  'deviceInfo', 'uringRunSync', 'uringRun',
] as const satisfies ReadonlyArray<keyof NativeIo>;

/** The addon, loaded once per thread, with errors converted to XdbmError. */
export function loadNative(): NativeIo {
  if (injected) return injected;
  if (!cached) cached = wrapNative(loadRawNative());
  return cached;
}

/** True when the addon can be loaded (no throw). */
export function nativeAvailable(): boolean {
  try {
    loadNative();
    return true;
  } catch {
    return false;
  }
}

/** Inject a NativeIo (a fake, or a wrapped real one); null restores the real addon. */
export function setNativeForTesting(obj: NativeIo | null): void {
  injected = obj;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * Converts an error thrown by the addon (an Error or plain object with code/errno/syscallCode) into
 * an XdbmError. Anything without a known XDBM_* code becomes XDBM_IO_ERROR (or XDBM_INVALID_ARGUMENT
 * for the TypeErrors node-addon-api throws on wrong argument types).
 */
export function toXdbmError(e: unknown): XdbmError {
  if (e instanceof XdbmError) return e;
  const o = (typeof e === 'object' && e !== null ? e : {}) as {
    code?: unknown; errno?: unknown; syscallCode?: unknown; message?: unknown; syscall?: unknown; path?: unknown; offsetBytes?: unknown;
  };
  const message = typeof o.message === 'string' ? o.message : String(e);
  const code: ErrorCode =
    typeof o.code === 'string' && KNOWN_CODES.has(o.code) ? (o.code as ErrorCode)
    : e instanceof TypeError ? ErrorCode.INVALID_ARGUMENT
    : ErrorCode.IO_ERROR;
  const errno = typeof o.errno === 'number' && o.errno !== 0 ? Math.abs(o.errno) : undefined;
  const syscallCode = typeof o.syscallCode === 'string' ? o.syscallCode : undefined;
  const details: Record<string, unknown> = {};
  if (typeof o.syscall === 'string') details.syscall = o.syscall;
  if (typeof o.path === 'string') details.path = o.path;
  if (typeof o.offsetBytes === 'number') details.offsetBytes = o.offsetBytes;
  return new XdbmError(code, message, {
    errno,
    syscallCode,
    cause: e,
    details: Object.keys(details).length ? details : undefined,
  });
}

function rethrow(e: unknown): never {
  throw toXdbmError(e);
}

/** Wraps a raw addon so that every method throws / rejects with XdbmError. */
export function wrapNative(raw: NativeIo): NativeIo {
  const sync = <A extends unknown[], R>(fn: (...a: A) => R) => (...a: A): R => {
    try {
      return fn(...a);
    } catch (e) {
      return rethrow(e);
    }
  };
  const async = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => (...a: A): Promise<R> => {
    let p: Promise<R>;
    try {
      p = fn(...a);
    } catch (e) {
      return Promise.reject(toXdbmError(e));
    }
    return p.catch(rethrow);
  };
  return {
    open: sync((path: string, opts) => raw.open(path, opts)),
    close: sync((fd: number) => raw.close(fd)),
    allocAligned: sync((lengthBytes: number, alignBytes?: number) =>
      alignBytes === undefined ? raw.allocAligned(lengthBytes) : raw.allocAligned(lengthBytes, alignBytes)),
    pwriteSync: sync((fd: number, buf: Uint8Array, off: number) => raw.pwriteSync(fd, buf, off)),
    preadSync: sync((fd: number, buf: Uint8Array, off: number) => raw.preadSync(fd, buf, off)),
    fdatasyncSync: sync((fd: number) => raw.fdatasyncSync(fd)),
    pwrite: async((fd: number, buf: Uint8Array, off: number) => raw.pwrite(fd, buf, off)),
    pread: async((fd: number, buf: Uint8Array, off: number) => raw.pread(fd, buf, off)),
    fdatasync: async((fd: number) => raw.fdatasync(fd)),
    deviceInfo: sync((fd: number) => raw.deviceInfo(fd)),
    uringRunSync: sync((fd: number, job: UringJob) => raw.uringRunSync(fd, job)),
    uringRun: async((fd: number, job: UringJob) => raw.uringRun(fd, job)),
    isAligned: sync((buf: Uint8Array, alignBytes: number) => (raw.isAligned ? raw.isAligned(buf, alignBytes) : false)),
  };
}
