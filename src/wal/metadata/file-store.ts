/**
 * FileMetadataStore: one JSON document per log = { version, meta }. Given a directory, the document is
 * `<dir>/<log>.json`; given a file path ending in .json (config default `data/xdbm-meta.json`), it is
 * `<dir of it>/<base>.<log>.json`.
 * A change is written to a temp file, fsynced, renamed over the old one, and the directory fsynced, so
 * a crash leaves the old or the new document, never a mix. Compare-and-swap runs under a lock file
 * (O_EXCL) so writers in other processes on the same host serialise too; a lock older than
 * staleLockMs (its holder died) is broken.
 */
import { link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, XdbmError, fromSystemError } from '../../errors.js';
import type { LogMetadata, MetadataStore, VersionedMetadata } from './types.js';

const NAME_RE = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Who holds a lock (`pid@host#token`, written by #acquire) and whether it may be broken:
 *   - a holder on this host is judged by its pid alone: dead (killed with -9 mid-CAS) is broken at
 *     once, alive is never broken however slow it is (breaking a live holder lets two CAS from the
 *     same version both succeed);
 *   - a holder on another host (a shared file system) or an unreadable lock is judged by age.
 */
async function lockVerdict(lock: string): Promise<'dead' | 'alive' | 'unknown'> {
  const text = await readFile(lock, 'utf8').catch(() => '');
  const m = /^(\d+)@([^#]+)#/.exec(text.trim());
  if (!m || m[2] !== hostname()) return 'unknown';
  try {
    process.kill(Number(m[1]), 0);
    return 'alive';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH' ? 'dead' : 'alive';
  }
}

export interface FileMetadataStoreOptions {
  /** A directory, or a file path ending in .json whose directory and base name are used. */
  path: string;
  staleLockMs?: number;
  lockWaitMs?: number;
}

export class FileMetadataStore implements MetadataStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  readonly #filePrefix: string;
  readonly #staleLockMs: number;
  readonly #lockWaitMs: number;

  constructor(o: FileMetadataStoreOptions) {
    if (o.path.endsWith('.json')) {
      this.dir = dirname(o.path);
      this.#filePrefix = `${basename(o.path, '.json')}.`;
    } else {
      this.dir = o.path;
      this.#filePrefix = '';
    }
    this.#staleLockMs = o.staleLockMs ?? 10_000;
    this.#lockWaitMs = o.lockWaitMs ?? 5_000;
  }

  #path(logName: string): string {
    if (!NAME_RE.test(logName)) {
      throw new XdbmError(ErrorCode.INVALID_ARGUMENT, `log name ${JSON.stringify(logName)} must match ${NAME_RE}`);
    }
    return join(this.dir, `${this.#filePrefix}${logName}.json`);
  }

  async get(logName: string): Promise<VersionedMetadata | undefined> {
    const path = this.#path(logName);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fromSystemError(e, `read metadata ${path}`);
    }
    try {
      const doc = JSON.parse(text) as { version: number; meta: LogMetadata };
      if (typeof doc.version !== 'number' || !Array.isArray(doc.meta?.epochs)) throw new Error('bad shape');
      return { meta: doc.meta, version: doc.version };
    } catch (e) {
      throw new XdbmError(ErrorCode.LOG_CORRUPT, `metadata ${path} is not a valid document`, { cause: e });
    }
  }

  async compareAndSet(logName: string, meta: LogMetadata, expectedVersion: number): Promise<number> {
    const path = this.#path(logName);
    await mkdir(this.dir, { recursive: true }).catch((e) => { throw fromSystemError(e, `mkdir ${this.dir}`); });
    const lock = `${path}.lock`;
    const token = await this.#acquire(lock);
    try {
      const cur = await this.get(logName);
      const curVersion = cur?.version ?? 0;
      if (curVersion !== expectedVersion) {
        throw new XdbmError(ErrorCode.CAS_CONFLICT, `metadata of ${logName} is at version ${curVersion}, expected ${expectedVersion}`, {
          details: { logName, expectedVersion, actualVersion: curVersion },
        });
      }
      const version = curVersion + 1;
      const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
      try {
        const fh = await open(tmp, 'w', 0o644);
        try {
          await fh.writeFile(JSON.stringify({ version, meta }, null, 1));
          await fh.sync();
        } finally {
          await fh.close();
        }
        // Still ours? (Only a lock of another host can have been broken by age meanwhile.)
        if ((await readFile(lock, 'utf8').catch(() => '')) !== token) {
          throw new XdbmError(ErrorCode.IO_ERROR, `metadata lock ${lock} was taken over while this compare-and-set ran; nothing written`);
        }
        await rename(tmp, path);
        const d = await open(this.dir, 'r');
        try { await d.sync(); } finally { await d.close(); }
      } catch (e) {
        await unlink(tmp).catch(() => undefined);
        throw fromSystemError(e, `write metadata ${path}`);
      }
      return version;
    } finally {
      // Only our own lock goes.
      if ((await readFile(lock, 'utf8').catch(() => '')) === token) await unlink(lock).catch(() => undefined);
    }
  }

  /** Takes the lock; resolves the token written in it. */
  async #acquire(lock: string): Promise<string> {
    const deadline = Date.now() + this.#lockWaitMs;
    const token = `${process.pid}@${hostname()}#${randomUUID()}`;
    for (let attempt = 0; ; attempt++) {
      // The lock appears with its holder already written in it (written aside, then hard-linked in
      // one step): a holder killed at any moment never leaves an empty lock nobody can judge.
      const aside = `${lock}.${process.pid}-${attempt}-${token.slice(-8)}`;
      try {
        await writeFile(aside, token);
        await link(aside, lock);
        return token;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fromSystemError(e, `lock ${lock}`);
      } finally {
        await unlink(aside).catch(() => undefined);
      }
      const st = await stat(lock).catch(() => undefined);
      const verdict = st ? await lockVerdict(lock) : 'unknown';
      if (st && (verdict === 'dead' || (verdict === 'unknown' && Date.now() - st.mtimeMs > this.#staleLockMs))) {
        await unlink(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) {
        // Not a conflict: nothing was compared. The caller may try again (the holder is slow).
        throw new XdbmError(ErrorCode.IO_TIMEOUT, `metadata lock ${lock} held by a live process for more than ${this.#lockWaitMs} ms`);
      }
      await new Promise((r) => setTimeout(r, Math.min(50, 2 + attempt)));
    }
  }

  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fromSystemError(e, `list ${this.dir}`);
    }
    const out: string[] = [];
    for (const n of names) {
      if (!n.endsWith('.json') || !n.startsWith(this.#filePrefix)) continue;
      const log = n.slice(this.#filePrefix.length, -'.json'.length);
      if (NAME_RE.test(log) && !log.includes('.tmp-')) out.push(log);
    }
    return out.sort();
  }

  async close(): Promise<void> {}
}
