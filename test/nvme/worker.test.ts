/**
 * The NVMe module inside worker threads, for real: a Piscina pool (as the probe pool uses) and a
 * plain worker_threads Worker that must exit with code 0 after using koffi + libnvme
 * (ffi-napi segfaulted exactly there). Sources are transpiled because Node 20 workers load JS only.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { HOSTNQN_UUID_RE, hostNqn } from '../../src/nvme/topology.js';
import { transpile, type Transpiled } from './helpers/transpile.js';
import { requires } from '../support/requires.js';

/** Debian libnvme1: without it these skip, naming the package (see test/support/requires.ts). */
const libnvme = requires('libnvme1');

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'nvme-worker.mjs');
let js: Transpiled;
let moduleUrl: string;

beforeAll(() => {
  js = transpile(['src/nvme'], ['src/errors.ts']);
  moduleUrl = js.url('src/nvme/index.js');
});
afterAll(() => js?.cleanup());

describe.skipIf(libnvme.missing)(`libnvme in a Piscina pool${libnvme.note}`, () => {
  it('hostNqn, scan and a failing connect run in workers; the pool is destroyed cleanly', async () => {
    const pool = new Piscina({ filename: FIXTURE, minThreads: 2, maxThreads: 2 });
    let workerErrors = 0;
    pool.on('error', () => workerErrors++);
    try {
      const [a, b, scan, conn] = await Promise.all([
        pool.run({ moduleUrl, op: 'hostNqn' }),
        pool.run({ moduleUrl, op: 'hostNqn' }),
        pool.run({ moduleUrl, op: 'scan' }),
        pool.run({ moduleUrl, op: 'connect' }),
      ]);
      expect(a.hostNqn).toMatch(HOSTNQN_UUID_RE);
      expect(b.hostNqn).toBe(hostNqn()); // same answer as the main thread
      expect(Array.isArray(scan.controllers)).toBe(true);
      expect(conn.code).toBe(ErrorCode.NVME_ERROR); // error code survives the thread boundary
    } finally {
      await pool.destroy();
    }
    expect(workerErrors).toBe(0);
  });
});

describe.skipIf(libnvme.missing)(`libnvme in a plain worker thread${libnvme.note}`, () => {
  it('the worker exits by itself with code 0 after koffi calls', async () => {
    const w = new Worker(FIXTURE, { workerData: { standalone: true, moduleUrl, op: 'connect' } });
    const messages: unknown[] = [];
    w.on('message', (m) => messages.push(m));
    const exitCode = await new Promise<number>((resolve, reject) => {
      w.once('error', reject);
      w.once('exit', resolve);
    });
    expect(exitCode).toBe(0);
    expect(messages).toEqual([expect.objectContaining({ code: ErrorCode.NVME_ERROR })]);
  });
});
