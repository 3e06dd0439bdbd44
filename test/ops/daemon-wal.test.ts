/**
 * The daemon reports the logs' replication from the metadata store (`xdbm logs`, `xdbm status`,
 * /metrics) and refuses a node removal that would take the last counting copies (exit 2), unless
 * forced. Real daemon and CLI processes; the log is written first by a writer in this process.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openManagedLog } from '../../src/wal/log.js';
import { TestEnsemble, dirBackend } from '../wal/helpers/test-ensemble.js';
import { cli, ensureBuilt, startDaemon, tempDir, until, writeCluster, type DaemonHandle } from './helpers/harness.js';

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve(body));
    }).on('error', reject);
  });
}

describe('daemon: write-ahead log replication', () => {
  let dir: string;
  let d: DaemonHandle;
  let holders: string[];

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    const meta = path.join(dir, 'meta');
    const file = writeCluster(dir, { extraYaml: ['  wal:', '    metadata:', '      type: file', `      path: ${meta}`].join('\n') });
    // A writer in this process writes 50 entries on local-01..03 and closes cleanly.
    const t = await TestEnsemble.create({ root: dir, candidates: 0, metadataDir: meta });
    for (let i = 1; i <= 5; i++) {
      const id = String(i).padStart(2, '0');
      fs.mkdirSync(path.join(dir, `be-${id}`), { recursive: true });
      t.backends.push(dirBackend(`local-${id}`, path.join(dir, `be-${id}`)));
    }
    t.active = ['local-01', 'local-02', 'local-03'];
    const log = await openManagedLog(t.asManager(), 'raft');
    for (let i = 0; i < 50; i++) await log.append(Buffer.from(`e${i}`));
    holders = log.members();
    await log.close();
    // Two of the three holders break for good: their roots become plain files.
    for (const id of ['02', '03']) {
      fs.rmSync(path.join(dir, `be-${id}`), { recursive: true });
      fs.writeFileSync(path.join(dir, `be-${id}`), 'broken');
    }
    d = await startDaemon(['--config', file, '--socket', path.join(dir, 's.sock'), '--http', '127.0.0.1:0']);
  }, 60_000);

  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('shows the under-replicated entries in xdbm logs, xdbm status and /metrics', async () => {
    expect(holders.sort()).toEqual(['local-01', 'local-02', 'local-03']);
    const socket = ['--socket', d.socket];
    const view = await until(async () => {
      const r = await cli(['logs', '--json', ...socket]);
      const v = JSON.parse(r.stdout) as { log: string; underReplicatedEntries: number }[];
      return v.find((x) => x.log === 'raft' && x.underReplicatedEntries === 50);
    }, 'the daemon sees raft under-replicated', 30_000);
    expect(view.underReplicatedEntries).toBe(50);
    const status = await cli(['status', ...socket]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/raft: .*50 entries UNDER-REPLICATED/);
    expect(status.stdout).toMatch(/entries 1-50 \(epoch 1\): 1 healthy copy \(local-01\)/);
    const metrics = await until(async () => {
      const m = await get(`${d.url!.replace(/\/$/, '')}/metrics`);
      return /xdbm_wal_under_replicated_entries\{log="raft"\} 50/.test(m) ? m : undefined;
    }, '/metrics shows it', 20_000);
    expect(metrics).toMatch(/# TYPE xdbm_wal_under_replicated_entries gauge/);
  }, 60_000);

  it('refuses to remove the node with the last copy (exit 2, naming the log and range); --force removes it', async () => {
    const socket = ['--socket', d.socket];
    const refused = await cli(['nodes', 'remove', 'node-01', ...socket]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/XDBM_DATA_AT_RISK|log raft entries 1-50/);
    const cands = JSON.parse((await cli(['candidates', '--json', ...socket])).stdout) as { endpointId: string }[];
    expect(cands.some((c) => c.endpointId === 'local-01')).toBe(true);
    const forced = await cli(['nodes', 'remove', 'node-01', '--force', ...socket]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toMatch(/forced/);
  }, 60_000);
});
