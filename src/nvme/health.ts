/**
 * Health facts of one NVMe namespace through one controller: controller state and ANA state from
 * sysfs, SMART / Health log from the controller (Get Log Page through libnvme on /dev/nvmeX).
 */
import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { ErrorCode, XdbmError } from '../errors.js';
import {
  SMART_LOG_BYTES, SMART_LOG_LID, parseSmartLog, type AnaState, type ControllerState, type SmartLog,
} from './health-log.js';
import { allocC, callAsync, copyFromC, freeC, loadLibnvme, type LibNvme } from './libnvme.js';
import { nvmeError } from './nvme-errors.js';
import { DEFAULT_ROOTS, assertCtrlName, readAnaState, readControllerState, type SysRoots } from './sysfs.js';

/** NSID that addresses the controller as a whole (the SMART log of all namespaces). */
export const NVME_NSID_ALL = 0xffffffff;
const NVME_CSI_NVM = 0;

export interface SmartSummary {
  criticalWarning: number;
  mediaErrors: number;
  percentageUsed: number;
  temperatureK: number;
  availableSpare: number;
}

export interface NvmeHealth {
  /** 'gone' when the controller no longer exists. */
  controllerState: ControllerState | 'gone';
  anaState: AnaState | null;
  /** null when the controller is not live or the log could not be read (see smartError). */
  smart: SmartSummary | null;
  smartError?: { code: string; message: string };
}

export interface ReadHealthOptions {
  /** Deadline the kernel applies to the Get Log Page command (default 2000). */
  commandTimeoutMs?: number;
  /**
   * A SMART log read this recently is reused (default SMART_MAX_AGE_MS; 0 reads every time):
   * it changes slowly, and each read is an admin command over the fabric.
   */
  smartMaxAgeMs?: number;
  roots?: SysRoots;
  lib?: LibNvme;
}

/**
 * Reads the 512-byte SMART / Health log of controller `ctrl` (nsid: NVME_NSID_ALL by default).
 * Runs off the main thread; throws XDBM_NVME_ERROR (errno kept) or XDBM_IO_ERROR for the open.
 */
export async function readSmartLog(
  ctrl: string, nsid = NVME_NSID_ALL, opts: ReadHealthOptions = {},
): Promise<SmartLog> {
  assertCtrlName(ctrl);
  const lib = opts.lib ?? loadLibnvme();
  const devPath = path.join((opts.roots ?? DEFAULT_ROOTS).dev, ctrl);
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(devPath, fsConstants.O_RDONLY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new XdbmError(ErrorCode.NVME_ERROR, `open ${devPath}: ${err.message}`, {
      cause: e, syscallCode: err.code, errno: typeof err.errno === 'number' ? Math.abs(err.errno) : undefined,
    });
  }
  const buf = allocC(SMART_LOG_BYTES);
  try {
    const args = {
      lpo: 0, result: null, log: buf, args_size: lib.getLogArgsType.size, fd: fh.fd,
      timeout: opts.commandTimeoutMs ?? 2000, lid: SMART_LOG_LID, len: SMART_LOG_BYTES, nsid,
      csi: NVME_CSI_NVM, lsi: 0, lsp: 0, uuidx: 0, rae: false, ot: false,
    };
    const { value: rc, errno } = await callAsync(lib.nvme_get_log, args);
    if (rc < 0) throw nvmeError(`SMART log of ${ctrl}`, errno, { ctrl });
    if (rc > 0) {
      // A positive value is an NVMe status (e.g. 0x2 invalid field): the controller answered "no".
      throw new XdbmError(ErrorCode.NVME_ERROR, `SMART log of ${ctrl}: NVMe status 0x${rc.toString(16)}`, {
        details: { ctrl, nvmeStatus: rc },
      });
    }
    return parseSmartLog(copyFromC(buf, 0, SMART_LOG_BYTES));
  } finally {
    freeC(buf);
    await fh.close();
  }
}

export const SMART_MAX_AGE_MS = 10_000;
const smartCache = new Map<string, { atMs: number; smart: SmartSummary }>();

const smartKey = (ctrl: string, roots?: SysRoots): string => `${roots?.dev ?? DEFAULT_ROOTS.dev}/${ctrl}`;

/** Drops a cached SMART summary (the controller went away or is being deleted: its name may be reused). */
export function forgetSmart(ctrl: string, roots?: SysRoots): void {
  smartCache.delete(smartKey(ctrl, roots));
}

async function smartSummary(ctrl: string, opts: ReadHealthOptions): Promise<SmartSummary> {
  const maxAgeMs = opts.smartMaxAgeMs ?? SMART_MAX_AGE_MS;
  const key = smartKey(ctrl, opts.roots);
  const hit = smartCache.get(key);
  if (hit && maxAgeMs > 0 && Date.now() - hit.atMs < maxAgeMs) return hit.smart;
  const s = await readSmartLog(ctrl, NVME_NSID_ALL, opts);
  const smart: SmartSummary = {
    criticalWarning: s.criticalWarning,
    mediaErrors: s.mediaErrors,
    percentageUsed: s.percentageUsed,
    temperatureK: s.temperatureK,
    availableSpare: s.availableSpare,
  };
  smartCache.set(key, { atMs: Date.now(), smart });
  return smart;
}

/**
 * Controller state, ANA state of namespace `nsid` on that controller, and a SMART summary.
 * Never throws for a sick device: a missing controller shows as 'gone', an unreadable SMART log
 * as smart null with smartError.
 */
export async function readHealth(ctrl: string, nsid: number, opts: ReadHealthOptions = {}): Promise<NvmeHealth> {
  assertCtrlName(ctrl);
  const roots = opts.roots ?? DEFAULT_ROOTS;
  const state = await readControllerState(ctrl, roots);
  if (state === null) {
    forgetSmart(ctrl, roots);
    return { controllerState: 'gone', anaState: null, smart: null };
  }
  const anaState = await readAnaState(ctrl, nsid, roots);
  if (state !== 'live') {
    forgetSmart(ctrl, roots);
    return { controllerState: state, anaState, smart: null };
  }
  try {
    return { controllerState: state, anaState, smart: await smartSummary(ctrl, opts) };
  } catch (e) {
    const err = e as XdbmError;
    return { controllerState: state, anaState, smart: null, smartError: { code: err.code ?? ErrorCode.NVME_ERROR, message: err.message } };
  }
}
