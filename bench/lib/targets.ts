/**
 * Where benchmarks run: serializable descriptions of backends (passed to workload processes as JSON)
 * and the configuration objects (YAML keys, snake_case) the workloads build managers and backends from.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackendType } from '../../src/types.js';

export interface BenchTarget {
  type: BackendType;
  connectionString: string;
  /** NFS: where the export is mounted. */
  mountPoint?: string;
  /** Human description (device path, directory). */
  where: string;
}

/** One-endpoint config object for a backend built outside a manager (probe benchmarks). */
export function singleEndpointConfig(t: BenchTarget, endpointId = `bench-${t.type}`): object {
  const ep: Record<string, unknown> = { endpoint_id: endpointId, type: t.type, connection_string: t.connectionString, weight: 1 };
  if (t.mountPoint) ep.mount_point = t.mountPoint;
  return {
    target_active_backends: 1,
    candidate_nodes: [{ node_id: 'bench-node', address: '127.0.0.1', endpoints: [ep] }],
  };
}

export interface LocalEndpointSpec {
  id: string;
  node: string;
  dir: string;
  weight?: number;
}

/** A manager config over local directories, one candidate node per `node` value. */
export function localClusterConfig(eps: LocalEndpointSpec[], metaFile: string, over: Record<string, unknown> = {}): object {
  const nodes = new Map<string, Array<Record<string, unknown>>>();
  for (const e of eps) {
    const list = nodes.get(e.node) ?? [];
    list.push({ endpoint_id: e.id, type: 'local', connection_string: `file://${e.dir}`, weight: e.weight ?? 1 });
    nodes.set(e.node, list);
  }
  return {
    target_active_backends: 3,
    health_check_interval_ms: 5000,
    candidate_nodes: [...nodes].map(([node, endpoints], i) => ({
      node_id: node, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, endpoints,
    })),
    wal: { ack_quorum: 2, metadata: { type: 'file', path: metaFile } },
    admin: { socket_path: path.join(path.dirname(metaFile), 'xdbm.sock') },
    ...over,
  };
}

/** A scratch directory for one workload, removed by cleanup(). Under /tmp (ext4 here, O_DIRECT works). */
export function scratchDir(tag: string): { dir: string; cleanup: () => void } {
  const base = process.env.XDBM_BENCH_DIR ?? os.tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, `xdbm-bench-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A loop block device over a sparse file (root only), with O_DIRECT on the backing file. */
export function makeLoopDevice(sizeBytes: number): { device: string; file: string; remove: () => void } {
  const file = path.join(os.tmpdir(), `xdbm-bench-block-${process.pid}.img`);
  execFileSync('truncate', ['-s', String(sizeBytes), file]);
  let device: string;
  try {
    device = execFileSync('losetup', ['--find', '--show', '--direct-io=on', file], { encoding: 'utf8' }).trim();
  } catch (e) {
    rmSync(file, { force: true });
    throw e;
  }
  return {
    device,
    file,
    remove: () => {
      try { execFileSync('losetup', ['-d', device]); } catch { /* already detached */ }
      rmSync(file, { force: true });
    },
  };
}
