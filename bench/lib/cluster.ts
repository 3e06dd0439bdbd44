/** A manager over N local directories (one node each) for data-path benchmarks, and a counting replica factory. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { StorageBackend } from '../../src/backends/backend.js';
import { BackendManager } from '../../src/manager.js';
import type { MemberLog } from '../../src/wal/member-log.js';
import { defaultMemberFactory } from '../../src/wal/member-factory.js';
import { localClusterConfig, scratchDir, type LocalEndpointSpec } from './targets.js';

export interface LocalCluster {
  manager: BackendManager;
  dirs: Record<string, string>;
  specs: LocalEndpointSpec[];
  base: string;
  stop: () => Promise<void>;
}

export interface ExtraEndpoints {
  specs: LocalEndpointSpec[];
  /** Runs after the manager stopped, before the scratch directory is removed (unmounts). */
  cleanup: () => void;
}

/**
 * n local candidates, one node each, in a scratch directory; `extra` may add candidates whose
 * directories it makes itself inside that scratch directory (e.g. hangable file systems).
 */
export async function startLocalCluster(n: number, tag: string, over: Record<string, unknown> = {},
  extra?: (base: string) => ExtraEndpoints): Promise<LocalCluster> {
  const scratch = scratchDir(tag);
  const specs: LocalEndpointSpec[] = [];
  const dirs: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const id = `local-${String(i + 1).padStart(4, '0')}`;
    const dir = path.join(scratch.dir, id);
    mkdirSync(dir, { recursive: true });
    specs.push({ id, node: `node-${String(i + 1).padStart(4, '0')}`, dir });
    dirs[id] = dir;
  }
  let more: ExtraEndpoints | undefined;
  let manager: BackendManager;
  try {
    more = extra?.(scratch.dir);
    for (const e of more?.specs ?? []) { specs.push(e); dirs[e.id] = e.dir; }
    manager = await BackendManager.open(localClusterConfig(specs, path.join(scratch.dir, 'meta.json'), over));
    manager.on('warning', () => undefined);
    await manager.start();
  } catch (e) {
    more?.cleanup();
    scratch.cleanup();
    throw e;
  }
  return {
    manager, dirs, specs, base: scratch.dir,
    stop: async () => {
      await manager.stop().catch(() => undefined);
      more?.cleanup();
      scratch.cleanup();
    },
  };
}

/** Replica writes (group commits) and the entries they carried, per endpoint. */
export interface CommitCounter {
  commits: number;
  entries: number;
  /** Duration of each replica append (write + fdatasync + checks), microseconds; the first 100k kept. */
  commitUs: number[];
  factory: (b: StorageBackend, logName: string) => MemberLog;
}

/** The production layout (replicaFor) with append() counted: the log's real sync policy, measured. */
export function countingFactory(segmentBytes: number): CommitCounter {
  const c: CommitCounter = {
    commits: 0,
    entries: 0,
    commitUs: [],
    factory: (b, logName) => {
      const r: MemberLog = defaultMemberFactory({ segmentBytes, maxBatchBytes: 4 * 1024 * 1024 })(b, logName);
      const append = r.append.bind(r);
      r.append = async (copy, records) => {
        const t0 = performance.now();
        await append(copy, records);
        if (c.commitUs.length < 100_000) c.commitUs.push((performance.now() - t0) * 1000);
        c.commits++;
        c.entries += records.length;
      };
      return r;
    },
  };
  return c;
}
