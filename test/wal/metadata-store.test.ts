import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdMetadataStore } from '../../src/wal/metadata/etcd-store.js';
import { FileMetadataStore } from '../../src/wal/metadata/file-store.js';
import type { LogMetadata, MetadataStore } from '../../src/wal/metadata/types.js';
import { etcdAvailable, startEtcd, type EtcdServer } from './helpers/etcd-server.js';

const meta = (epoch: number, members: string[]): LogMetadata => ({
  epochs: [{ epoch, firstIndex: 1, members }],
  firstIndex: 1,
  writerId: `w${epoch}`,
});

function casContract(name: string, make: () => Promise<{ a: MetadataStore; b: MetadataStore }>): void {
  describe(`${name}: compare-and-swap`, () => {
    it('creates once, then only the holder of the current version may write', async () => {
      const { a, b } = await make();
      expect(await a.get('raft')).toBeUndefined();
      const v1 = await a.compareAndSet('raft', meta(1, ['x', 'y', 'z']), 0);
      await expect(b.compareAndSet('raft', meta(1, ['p']), 0)).rejects.toMatchObject({ code: 'XDBM_CAS_CONFLICT' });
      const seen = await b.get('raft');
      expect(seen).toEqual({ meta: meta(1, ['x', 'y', 'z']), version: v1 });
      const v2 = await b.compareAndSet('raft', meta(2, ['x', 'y', 'q']), v1);
      expect(v2).not.toBe(v1);
      await expect(a.compareAndSet('raft', meta(2, ['x', 'y', 'r']), v1)).rejects.toMatchObject({
        code: 'XDBM_CAS_CONFLICT',
        details: { expectedVersion: v1, actualVersion: v2 },
      });
      expect((await a.get('raft'))?.meta.epochs[0]?.members).toEqual(['x', 'y', 'q']);
    });

    it('lets exactly one of many racing writers win', async () => {
      const { a, b } = await make();
      const v = await a.compareAndSet('race', meta(1, ['m']), 0);
      const tries = Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).compareAndSet('race', meta(2 + i, [`m${i}`]), v));
      const results = await Promise.allSettled(tries);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'XDBM_CAS_CONFLICT' });
    });
  });
}

describe('FileMetadataStore', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'xdbm-meta-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });
  let n = 0;
  casContract('file', async () => {
    const d = join(dir, `s${n++}`);
    return { a: new FileMetadataStore({ path: join(d, 'meta.json') }), b: new FileMetadataStore({ path: join(d, 'meta.json') }) };
  });

  it('leaves no temp or lock files behind and rejects unsafe log names', async () => {
    const d = join(dir, 'clean');
    const s = new FileMetadataStore({ path: d });
    await s.compareAndSet('raft', meta(1, ['a']), 0);
    expect(await readdir(d)).toEqual(['raft.json']);
    await expect(s.get('../etc/passwd')).rejects.toMatchObject({ code: 'XDBM_INVALID_ARGUMENT' });
  });
});

describe.skipIf(!etcdAvailable)('EtcdMetadataStore (real etcd; skipped when /usr/bin/etcd is missing: apt-get install etcd-server, CI has it)', () => {
  let server: EtcdServer;
  const stores: MetadataStore[] = [];
  beforeAll(async () => { server = await startEtcd(); }, 30_000);
  afterAll(async () => {
    for (const s of stores) await s.close();
    await server?.stop();
  });
  let n = 0;
  casContract('etcd', async () => {
    const prefix = `/xdbm-test-${n++}/`;
    const a = new EtcdMetadataStore({ endpoints: [server.clientUrl], prefix });
    const b = new EtcdMetadataStore({ endpoints: [server.clientUrl], prefix });
    stores.push(a, b);
    return { a, b };
  });
});
