/** The addon loaded in several worker threads at once (Piscina and plain worker_threads). */
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Piscina } from 'piscina';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDON_PATH, NO_ADDON_REASON, tempDir } from './helpers.js';
import { until } from '../support/until.js';

const FIXTURE = new URL('./fixtures/io-worker.mjs', import.meta.url);

describe.skipIf(!ADDON_PATH)(`addon in worker threads (${ADDON_PATH ? 'built' : NO_ADDON_REASON})`, () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => { tmp = tempDir(); });
  afterAll(() => tmp.cleanup());

  it('4 Piscina workers load it concurrently, do I/O, and the pool shuts down cleanly', async () => {
    const file = join(tmp.dir, 'piscina.bin');
    const pool = new Piscina({ filename: FIXTURE.href, minThreads: 4, maxThreads: 4, idleTimeout: 60_000 });
    const exits: number[] = [];
    pool.on('workerDestroy', () => exits.push(1));
    const barrier = new Int32Array(new SharedArrayBuffer(4));
    try {
      const results = await Promise.all(
        [0, 1, 2, 3].map((index) => pool.run({ addonPath: ADDON_PATH, file, index, barrier, expected: 4 })),
      );
      expect(new Set(results.map((r) => r.threadId)).size).toBe(4);
      for (const r of results) expect(r).toMatchObject({ okRounds: 64, uringOps: 64, concurrent: 4 });
    } finally {
      await pool.destroy();
    }
    expect(pool.threads.length).toBe(0);
    // Every worker's blocks are on disk with its own pattern.
    const data = readFileSync(file);
    for (let index = 0; index < 4; index++) {
      expect(data[(index * 64 + 63) * 4096]).toBe((index * 64 + 63) % 255 + 1);
    }
  });

  it('plain worker threads using it exit with code 0 (finalizers of aligned buffers run at teardown)', async () => {
    const file = join(tmp.dir, 'threads.bin');
    const barrier = new Int32Array(new SharedArrayBuffer(4));
    const runs = [0, 1, 2, 3].map((index) => new Promise<{ code: number; result: unknown }>((resolve, reject) => {
      const w = new Worker(FIXTURE, { workerData: { standalone: true, addonPath: ADDON_PATH, file, index, barrier, expected: 4 } });
      let result: unknown;
      w.on('message', (m) => { result = m; });
      w.on('error', reject);
      w.on('exit', (code) => resolve({ code, result }));
    }));
    const done = await Promise.all(runs);
    for (const d of done) {
      expect(d.code).toBe(0);
      expect(d.result).toMatchObject({ okRounds: 64, uringOps: 64 });
    }
  });

  it('destroying the pool while a worker is inside a native io_uring job ends cleanly', async () => {
    const pool = new Piscina({ filename: new URL('./fixtures/long-job-worker.mjs', import.meta.url).href, minThreads: 1, maxThreads: 1 });
    const started = new Int32Array(new SharedArrayBuffer(4));
    const task = pool.run({ addonPath: ADDON_PATH, file: join(tmp.dir, 'long.bin'), durationMs: 400, started });
    const outcome = task.then(() => 'resolved', (e: Error) => `rejected:${e.message}`);
    await until(() => Atomics.load(started, 0) !== 0, 'the native job started', { intervalMs: 5 });
    await pool.destroy();
    expect(await outcome).toMatch(/^rejected:.*(terminat|destroy)/i);
    expect(pool.threads.length).toBe(0);
  });
});
