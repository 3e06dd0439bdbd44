/**
 * Fault injector thread: removes a directory (or replaces it by a file) synchronously on its own
 * thread, so the injection neither stalls the measured event loop (rmSync there) nor queues behind the
 * measured appends in the libuv pool (fs.promises.rm). Replies with the absolute time it finished.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

export interface FaultRequest { id: number; dir: string; replaceWithFile: boolean }
export interface FaultReply { id: number; startAbsMs: number; doneAbsMs: number; error?: string }

parentPort?.on('message', (m: FaultRequest) => {
  const startAbsMs = performance.timeOrigin + performance.now();
  let error: string | undefined;
  try {
    rmSync(m.dir, { recursive: true, force: true });
    if (m.replaceWithFile) writeFileSync(m.dir, 'not a directory\n');
  } catch (e) {
    error = String((e as Error)?.message ?? e);
  }
  parentPort!.postMessage({ id: m.id, startAbsMs, doneAbsMs: performance.timeOrigin + performance.now(), error } satisfies FaultReply);
});
