/**
 * Turns libnvme's errno values into XdbmErrors with a stable code.
 * libnvme reports fabrics connect failures as its own errno values ENVME_CONNECT_* (1000 and up,
 * nvme/util.h of 1.3); other failures carry a plain OS errno.
 */
import { constants as osConstants } from 'node:os';
import { ErrorCode, XdbmError } from '../errors.js';

/** ENVME_CONNECT_* of libnvme 1.3, in declaration order from 1000; with what each means. */
const ENVME_CONNECT: ReadonlyArray<readonly [string, string, string | undefined]> = [
  ['ENVME_CONNECT_RESOLVE', 'failed to resolve host', undefined],
  ['ENVME_CONNECT_ADDRFAM', 'unrecognized address family', undefined],
  ['ENVME_CONNECT_TRADDR', 'failed to get traddr', undefined],
  ['ENVME_CONNECT_TARG', 'need a transport argument', undefined],
  ['ENVME_CONNECT_AARG', 'need an address argument', undefined],
  ['ENVME_CONNECT_OPEN', 'failed to open /dev/nvme-fabrics (this kernel has no nvme-fabrics support loaded: modprobe nvme-tcp)', 'ENOENT'],
  ['ENVME_CONNECT_WRITE', 'failed to write to /dev/nvme-fabrics (target unreachable, timed out or rejected the connect)', 'EIO'],
  ['ENVME_CONNECT_READ', 'failed to read from /dev/nvme-fabrics', 'EIO'],
  ['ENVME_CONNECT_PARSE', 'failed to parse controller info', undefined],
  ['ENVME_CONNECT_INVAL_TR', 'invalid transport type', 'EINVAL'],
  ['ENVME_CONNECT_LOOKUP_SUBSYS_NAME', 'failed to look up subsystem name', undefined],
  ['ENVME_CONNECT_LOOKUP_SUBSYS', 'failed to look up subsystem', undefined],
  ['ENVME_CONNECT_ALREADY', 'already connected', 'EALREADY'],
  ['ENVME_CONNECT_INVAL', 'invalid arguments or configuration (unknown NQN, or option the kernel rejects)', 'EINVAL'],
  ['ENVME_CONNECT_ADDRINUSE', 'host NQN already in use', 'EADDRINUSE'],
  ['ENVME_CONNECT_NODEV', 'invalid interface', 'ENODEV'],
  ['ENVME_CONNECT_OPNOTSUPP', 'operation not supported (transport module missing?)', 'EOPNOTSUPP'],
  ['ENVME_CONNECT_CONNREFUSED', 'connection refused', 'ECONNREFUSED'],
];
export const ENVME_CONNECT_BASE = 1000;

export interface NvmeErrnoInfo {
  /** ENVME_CONNECT_* name or the OS errno name ('ENOENT'); 'E?' when unknown. */
  name: string;
  message: string;
  /** OS-style code for XdbmError.syscallCode, when one fits. */
  syscallCode?: string;
}

const osNameByErrno = new Map<number, string>(
  Object.entries(osConstants.errno).map(([k, v]) => [v as number, k]),
);

export function describeNvmeErrno(errno: number): NvmeErrnoInfo {
  const i = errno - ENVME_CONNECT_BASE;
  if (i >= 0 && i < ENVME_CONNECT.length) {
    const [name, message, syscallCode] = ENVME_CONNECT[i]!;
    return { name, message, syscallCode };
  }
  const name = osNameByErrno.get(errno) ?? `E?${errno}`;
  return { name, message: name, syscallCode: osNameByErrno.get(errno) };
}

/** XDBM_NVME_ERROR for a failed libnvme call, keeping errno and its name. */
export function nvmeError(what: string, errno: number, details: Record<string, unknown> = {}): XdbmError {
  const info = describeNvmeErrno(errno);
  return new XdbmError(ErrorCode.NVME_ERROR, `${what}: ${info.message} (${info.name}, errno ${errno})`, {
    errno,
    syscallCode: info.syscallCode,
    details: { ...details, nvmeErrno: info.name },
  });
}
