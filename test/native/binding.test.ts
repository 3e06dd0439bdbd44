/** The loader: finds the addon from src/ and dist/, caches it, converts errors, accepts injection. */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, XdbmError } from '../../src/errors.js';
import {
  addonCandidates, findPackageRoot, loadNative, loadRawNative, setNativeForTesting, toXdbmError, wrapNative,
} from '../../src/native/binding.js';
import type { NativeIo } from '../../src/native/types.js';
import { ADDON_PATH, NO_ADDON_REASON, tempDir } from './helpers.js';

const ROOT = findPackageRoot()!;

describe('native loader', () => {
  afterEach(() => setNativeForTesting(null));

  it('finds the package root from src/native and from the compiled dist/src/native', () => {
    expect(ROOT).toBeDefined();
    expect(findPackageRoot(join(ROOT, 'dist', 'src', 'native'))).toBe(ROOT);
    expect(findPackageRoot(join(ROOT, 'src', 'native'))).toBe(ROOT);
    expect(addonCandidates()).toContain(join(ROOT, 'build', 'Release', 'xdbm_native.node'));
  });

  it('fails with XDBM_NATIVE_UNAVAILABLE and a fix hint when the addon is missing', () => {
    const tmp = tempDir();
    try {
      let err: unknown;
      try { loadRawNative([join(tmp.dir, 'build', 'Release', 'xdbm_native.node')]); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(XdbmError);
      expect(err).toMatchObject({ code: ErrorCode.NATIVE_UNAVAILABLE });
      expect((err as Error).message).toMatch(/npm ci.*node-gyp rebuild --nodedir=\/usr/);
    } finally {
      tmp.cleanup();
    }
  });

  it('fails with XDBM_NATIVE_UNAVAILABLE when the file is not a loadable addon or lacks methods', () => {
    const tmp = tempDir();
    try {
      const bogus = join(tmp.dir, 'bogus.node');
      writeFileSync(bogus, 'not an ELF file');
      expect(() => loadRawNative([bogus])).toThrow(expect.objectContaining({ code: ErrorCode.NATIVE_UNAVAILABLE }));
      // A module that loads but is not the addon (a stale or foreign build).
      expect(() => loadRawNative([join(ROOT, 'package.json')])).toThrow(
        expect.objectContaining({ code: ErrorCode.NATIVE_UNAVAILABLE, message: expect.stringMatching(/lacks open, close/) }),
      );
    } finally {
      tmp.cleanup();
    }
  });

  it('setNativeForTesting injects an object and null restores the real one', () => {
    const fake = { open: () => 42 } as unknown as NativeIo;
    setNativeForTesting(fake);
    expect(loadNative()).toBe(fake);
    expect(loadNative().open('/x', { direct: true, write: false })).toBe(42);
    setNativeForTesting(null);
    expect(loadNative()).not.toBe(fake);
  });

  it('converts plain errors thrown by native code into XdbmError with code, errno, syscallCode', async () => {
    const plain = Object.assign(new Error('pwrite(fd 3, offset 0): EIO (Input/output error)'), {
      code: 'XDBM_IO_ERROR', errno: 5, syscallCode: 'EIO', syscall: 'pwrite', offsetBytes: 0,
    });
    const e = toXdbmError(plain);
    expect(e).toBeInstanceOf(XdbmError);
    expect(e).toMatchObject({ code: 'XDBM_IO_ERROR', errno: 5, syscallCode: 'EIO', details: { syscall: 'pwrite', offsetBytes: 0 } });
    expect(toXdbmError({ code: 'ENOENT', errno: -2, message: 'x' })).toMatchObject({ code: 'XDBM_IO_ERROR', errno: 2 });
    expect(toXdbmError(new TypeError('A number was expected'))).toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });

    const thrower = (() => { throw plain; }) as never;
    const wrapped = wrapNative({ pwriteSync: thrower, pwrite: thrower, pread: async () => { throw plain; } } as unknown as NativeIo);
    expect(() => wrapped.pwriteSync(3, Buffer.alloc(0), 0)).toThrow(XdbmError);
    await expect(wrapped.pwrite(3, Buffer.alloc(0), 0)).rejects.toBeInstanceOf(XdbmError);
    await expect(wrapped.pread(3, Buffer.alloc(0), 0)).rejects.toMatchObject({ code: 'XDBM_IO_ERROR', errno: 5 });
  });

  it.skipIf(!ADDON_PATH)(`loads the real addon once per thread (${ADDON_PATH ? 'built' : NO_ADDON_REASON})`, () => {
    const a = loadNative();
    expect(loadNative()).toBe(a);
    for (const fn of ['open', 'close', 'allocAligned', 'pwriteSync', 'preadSync', 'fdatasyncSync', 'pwrite', 'pread',
      'fdatasync', 'deviceInfo', 'uringRunSync', 'uringRun', 'isAligned'] as const) {
      expect(typeof a[fn]).toBe('function');
      expect(typeof (loadRawNative() as unknown as Record<string, unknown>)[fn]).toBe('function');
    }
  });

  it.skipIf(!ADDON_PATH)(`compiled to JS elsewhere in the package, it loads the addon inside a worker thread (${ADDON_PATH ? 'built' : NO_ADDON_REASON})`, async () => {
    // A dist-like copy (transpiled, as tsc would emit it) under node_modules/.cache of this package.
    const out = join(ROOT, 'node_modules', '.cache', `xdbm-native-loader-${process.pid}`);
    const tmp = tempDir();
    try {
      for (const rel of ['src/errors', 'src/native/binding']) {
        const js = ts.transpileModule(readFileSync(join(ROOT, `${rel}.ts`), 'utf8'), {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        mkdirSync(join(out, rel, '..'), { recursive: true });
        writeFileSync(join(out, `${rel}.js`), js);
      }
      const bindingUrl = pathToFileURL(join(out, 'src', 'native', 'binding.js')).href;
      const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const w = new Worker(new URL('./fixtures/loader-worker.mjs', import.meta.url), {
          workerData: { bindingUrl, file: join(tmp.dir, 'w.bin') },
        });
        let msg: Record<string, unknown> | undefined;
        w.on('message', (m) => { msg = m; });
        w.on('error', reject);
        w.on('exit', (code) => (code === 0 && msg ? resolve(msg) : reject(new Error(`worker exit ${code}`))));
      });
      expect(result).toEqual({ root: ROOT, same: true, code: 'XdbmError:XDBM_INVALID_ARGUMENT:22', cached: true });
    } finally {
      rmSync(out, { recursive: true, force: true });
      tmp.cleanup();
    }
  });
});
