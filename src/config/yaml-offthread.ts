/**
 * readYaml on a worker thread for the daemon: parsing is synchronous and, for a file near the size
 * bound on a busy machine, takes hundreds of milliseconds; the daemon's event loop must not stop
 * that long (probes, failover, the admin socket and HTTP). Small texts, the common case, are parsed
 * inline: a thread costs more than they do. A parse that overruns its deadline is terminated.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ErrorCode, XdbmError } from '../errors.js';
import { positionsFrom, readYaml, type PositionTables, type YamlSource } from './yaml-source.js';

/** Texts up to this size are parsed inline (about 10 ms even on a loaded machine). */
export const INLINE_PARSE_BYTES = 16 * 1024;
/** Deadline of one off-thread parse. */
export const PARSE_DEADLINE_MS = 10_000;

const WORKER_URL = new URL('./yaml-worker.js', import.meta.url);

export function readYamlOffThread(text: string, rootPath = ''): Promise<YamlSource> {
  // inline when small, and when run from the TypeScript sources (tests), where no compiled worker exists
  if (Buffer.byteLength(text) <= INLINE_PARSE_BYTES || !fs.existsSync(fileURLToPath(WORKER_URL))) return Promise.resolve(readYaml(text, rootPath));
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, {
      workerData: { text, rootPath },
      // a parse that somehow balloons dies in its own heap, not the daemon's
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new XdbmError(ErrorCode.CONFIG_INVALID, `parsing the configuration took longer than ${PARSE_DEADLINE_MS} ms: refused`));
    }, PARSE_DEADLINE_MS);
    worker.once('message', (m: { value: unknown; syntaxIssues: YamlSource['syntaxIssues']; positions: PositionTables }) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve({ value: m.value, syntaxIssues: m.syntaxIssues, positions: positionsFrom(m.positions) });
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(new XdbmError(ErrorCode.CONFIG_INVALID, `parsing the configuration failed: ${e.message}`, { cause: e }));
    });
  });
}
