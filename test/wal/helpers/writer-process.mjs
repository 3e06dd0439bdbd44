#!/usr/bin/env node
/**
 * A writer of the managed log in a process of its own, for the crash tests (kill -9, SIGSTOP): it opens
 * the log over plain directories, appends with several appenders at once, and records every operation
 * in a Jepsen-style history file (one JSON line per event, written synchronously before the promise
 * settles, so a kill -9 leaves every acknowledgement it made). When fenced by another writer it opens
 * the log again (two such processes fight over the log). Runs the compiled code in dist/.
 *
 * argv: <root> <candidates> <active,ids> <metadata: dir | etcd:URL> <writerId> <history.jsonl> <appenders> [maxAppends]
 */
import { EventEmitter } from 'node:events';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const dist = resolve(here, '../../../dist/src');
const { openManagedLog } = await import(join(dist, 'wal/log.js'));
const { JsonLinesHistory } = await import(join(dist, 'wal/history.js'));

const [root, candidates, activeList, metadata, writerId, historyPath, appendersArg, maxArg] = process.argv.slice(2);
const appenders = Number(appendersArg ?? 4);
const maxAppends = Number(maxArg ?? Infinity);

function dirBackend(id) {
  const path = join(root, id);
  return { endpointId: id, type: 'local', isOpen: true, config: { endpointId: id, type: 'local', connectionString: `file://${path}`, target: { kind: 'file', path }, weight: 1, labels: {} } };
}

class Manager extends EventEmitter {
  backends = Array.from({ length: Number(candidates) }, (_, i) => dirBackend(`b${i}`));
  active = activeList.split(',');
  failed = new Set();
  config = {
    wal: {
      ackQuorum: 2, segmentBytes: 64 * 1024,
      metadata: metadata.startsWith('etcd:') ? { type: 'etcd', endpoints: [metadata.slice(5)], prefix: '/xdbm-test/' } : { type: 'file', path: metadata },
    },
    failover: { failoverTimeoutMs: 3000 },
  };
  getActiveStorage() { return this.active.map((id) => this.getBackend(id)); }
  getBackend(id) { return this.backends.find((b) => b.endpointId === id); }
  getCandidates() { return this.backends.map((b) => ({ endpointId: b.endpointId, state: this.failed.has(b.endpointId) ? 'FAILED' : 'HEALTHY' })); }
  reportDataPathError(id) {
    if (this.failed.has(id)) return;
    this.failed.add(id);
    const spare = this.backends.find((b) => !this.failed.has(b.endpointId) && !this.active.includes(b.endpointId));
    const previous = [...this.active];
    this.active = this.active.filter((x) => x !== id).concat(spare ? [spare.endpointId] : []);
    setImmediate(() => this.emit('active-changed', { previous, current: this.active, reason: 'data-path' }));
  }
  recordDataPathOp() {}
}

const history = new JsonLinesHistory(historyPath);
const manager = new Manager();
let seq = 0;
const payload = (n) => Buffer.from(`${writerId}:${n}:${'p'.repeat(n % 97)}`);

for (;;) {
  let log;
  try {
    log = await openManagedLog(manager, 'raft', { writerId: `${writerId}#${seq}`, history, writeDeadlineMs: 1000 });
  } catch (e) {
    process.stdout.write(`open-failed ${e.code ?? e.message}\n`);
    await new Promise((r) => setTimeout(r, 20));
    continue;
  }
  process.stdout.write(`opened ${log.lastIndex()}\n`);
  let fenced = false;
  await Promise.all(Array.from({ length: appenders }, async () => {
    while (!fenced && seq < maxAppends) {
      const n = seq++;
      try {
        await log.append(payload(n));
      } catch (e) {
        if (e.code === 'XDBM_FENCED' || e.code === 'XDBM_CLOSED') fenced = true;
        else await new Promise((r) => setTimeout(r, 5));
      }
    }
  }));
  await log.close().catch(() => undefined);
  if (seq >= maxAppends) { process.stdout.write('done\n'); process.exit(0); }
  process.stdout.write('fenced\n');
}
