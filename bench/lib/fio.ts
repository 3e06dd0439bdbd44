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
  /** O_DIRECT (default true); false for buffered writes made durable by fdatasync, like the log's files. */
  direct?: boolean;
  /** Runtime in milliseconds; overrides runtimeSec when given (fio accepts an `ms` suffix). */
  runtimeMs?: number;
}

export interface FioResult {
  iops: number;
  bandwidthMBps: number;
  p50LatencyUs: number;
  p99LatencyUs: number;
  meanLatencyUs: number;
  /** fdatasync latency percentiles when the job synced (fio `sync` section; clat excludes it). */
  syncP50LatencyUs?: number;
  syncP99LatencyUs?: number;
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
  const args = [...jobArgs(job, 'xdbm-ref'), '--output-format=json', `--numjobs=${job.numJobs ?? 1}`, '--group_reporting'];
  const { stdout } = await execFileAsync('fio', args, { maxBuffer: 64 * 1024 * 1024 });
  const json = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
    'fio version': string;
    jobs: Array<Record<'read' | 'write', { iops: number; bw_bytes: number; clat_ns: { mean: number; percentile?: Record<string, number> } }>
      & { sync?: { lat_ns?: { percentile?: Record<string, number> } } }>;
  };
  const side = job.rw.includes('read') ? 'read' : 'write';
  const s = json.jobs[0]![side];
  const pct = s.clat_ns.percentile ?? {};
  const sp = json.jobs[0]!.sync?.lat_ns?.percentile;
  return {
    ...(sp ? { syncP50LatencyUs: (sp['50.000000'] ?? 0) / 1000, syncP99LatencyUs: (sp['99.000000'] ?? 0) / 1000 } : {}),
    iops: s.iops,
    bandwidthMBps: s.bw_bytes / 1e6,
    p50LatencyUs: (pct['50.000000'] ?? 0) / 1000,
    p99LatencyUs: (pct['99.000000'] ?? 0) / 1000,
    meanLatencyUs: s.clat_ns.mean / 1000,
    version: json['fio version'],
    command: ['fio', ...args],
  };
}

/** Per-job options of a multi-job fio run (one job per file, all running at once). */
function jobArgs(job: FioJob, name: string): string[] {
  const a = [
    `--name=${name}`,
    `--filename=${job.filename}`,
    `--rw=${job.rw}`,
    `--bs=${job.blockBytes}`,
    `--iodepth=${job.ioDepth}`,
    `--ioengine=${job.ioEngine}`,
    `--direct=${job.direct === false ? 0 : 1}`,
    `--size=${job.sizeBytes}`,
    job.runtimeMs !== undefined ? `--runtime=${Math.max(1, Math.round(job.runtimeMs))}ms` : `--runtime=${job.runtimeSec}`,
    '--time_based',
    '--randrepeat=0',
  ];
  if (job.offsetBytes) a.push(`--offset=${job.offsetBytes}`);
  if (job.fdatasyncEvery) a.push(`--fdatasync=${job.fdatasyncEvery}`);
  return a;
}

export interface FioJobResult extends Omit<FioResult, 'command' | 'version'> {
  name: string;
  /** Completed write (or read) operations. */
  ios: number;
  /** fdatasync latency percentiles when the job synced (fio `sync` section). */
  syncP50LatencyUs?: number;
  syncP99LatencyUs?: number;
}

/** Several jobs in one fio process, running concurrently (e.g. one per directory); per-job results. */
export async function runFioJobs(jobs: FioJob[]): Promise<{ jobs: FioJobResult[]; version: string; command: string[] }> {
  const args = ['--output-format=json'];
  jobs.forEach((j, i) => args.push(...jobArgs(j, `xdbm-ref-${i}`)));
  const { stdout } = await execFileAsync('fio', args, { maxBuffer: 64 * 1024 * 1024 });
  const json = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
    'fio version': string;
    jobs: Array<{ jobname: string } & Record<'read' | 'write', { iops: number; bw_bytes: number; total_ios: number; clat_ns: { mean: number; percentile?: Record<string, number> } }>
      & { sync?: { lat_ns?: { percentile?: Record<string, number> } } }>;
  };
  const out: FioJobResult[] = json.jobs.map((j, i) => {
    const side = jobs[i]!.rw.includes('read') ? 'read' : 'write';
    const s = j[side];
    const pct = s.clat_ns.percentile ?? {};
    const sp = j.sync?.lat_ns?.percentile;
    const r: FioJobResult = {
      name: j.jobname,
      ios: s.total_ios,
      iops: s.iops,
      bandwidthMBps: s.bw_bytes / 1e6,
      p50LatencyUs: (pct['50.000000'] ?? 0) / 1000,
      p99LatencyUs: (pct['99.000000'] ?? 0) / 1000,
      meanLatencyUs: s.clat_ns.mean / 1000,
    };
    if (sp) {
      r.syncP50LatencyUs = (sp['50.000000'] ?? 0) / 1000;
      r.syncP99LatencyUs = (sp['99.000000'] ?? 0) / 1000;
    }
    return r;
  });
  return { jobs: out, version: json['fio version'], command: ['fio', ...args] };
}
