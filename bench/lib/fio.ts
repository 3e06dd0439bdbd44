/**
 * fio as the reference for raw device/file speed: run it on the same file or device with the same
 * block size, queue depth and O_DIRECT, in the same run as the workload it is compared with.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface FioJob {
  filename: string;
  rw: 'randwrite' | 'randread' | 'write' | 'read';
  blockBytes: number;
  ioDepth: number;
  ioEngine: 'psync' | 'io_uring' | 'libaio' | 'sync';
  runtimeSec: number;
  sizeBytes: number;
  /** fdatasync after every N writes (0 = never). */
  fdatasyncEvery?: number;
  /** Restrict to [offsetBytes, offsetBytes + sizeBytes). */
  offsetBytes?: number;
  numJobs?: number;
}

export interface FioResult {
  iops: number;
  bandwidthMBps: number;
  p50LatencyUs: number;
  p99LatencyUs: number;
  meanLatencyUs: number;
  version: string;
  command: string[];
}

export async function fioAvailable(): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync('fio', ['--version']);
    return stdout.trim();
  } catch {
    return null;
  }
}

export async function runFio(job: FioJob): Promise<FioResult> {
  const args = [
    '--name=xdbm-ref',
    `--filename=${job.filename}`,
    `--rw=${job.rw}`,
    `--bs=${job.blockBytes}`,
    `--iodepth=${job.ioDepth}`,
    `--ioengine=${job.ioEngine}`,
    '--direct=1',
    `--size=${job.sizeBytes}`,
    `--runtime=${job.runtimeSec}`,
    '--time_based',
    '--randrepeat=0',
    '--output-format=json',
    `--numjobs=${job.numJobs ?? 1}`,
    '--group_reporting',
  ];
  if (job.offsetBytes) args.push(`--offset=${job.offsetBytes}`);
  if (job.fdatasyncEvery) args.push(`--fdatasync=${job.fdatasyncEvery}`);
  const { stdout } = await execFileAsync('fio', args, { maxBuffer: 64 * 1024 * 1024 });
  const json = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
    'fio version': string;
    jobs: Array<Record<'read' | 'write', { iops: number; bw_bytes: number; clat_ns: { mean: number; percentile?: Record<string, number> } }>>;
  };
  const side = job.rw.includes('read') ? 'read' : 'write';
  const s = json.jobs[0][side];
  const pct = s.clat_ns.percentile ?? {};
  return {
    iops: s.iops,
    bandwidthMBps: s.bw_bytes / 1e6,
    p50LatencyUs: (pct['50.000000'] ?? 0) / 1000,
    p99LatencyUs: (pct['99.000000'] ?? 0) / 1000,
    meanLatencyUs: s.clat_ns.mean / 1000,
    version: json['fio version'],
    command: ['fio', ...args],
  };
}
