/**
 * Pure parsers for NVMe health data: the SMART / Health Information log page (LID 02h, 512 bytes,
 * NVMe Base Specification "SMART / Health Information Log"), ANA states and controller states.
 * No I/O here: health.ts fetches the bytes and the sysfs strings.
 */

export const SMART_LOG_LID = 0x02;
export const SMART_LOG_BYTES = 512;

/** Critical Warning bits (byte 0). */
export const CriticalWarningBit = {
  SPARE_BELOW_THRESHOLD: 1 << 0,
  TEMPERATURE: 1 << 1,
  RELIABILITY_DEGRADED: 1 << 2,
  READ_ONLY: 1 << 3,
  VOLATILE_BACKUP_FAILED: 1 << 4,
  PMR_READ_ONLY: 1 << 5,
} as const;

export interface SmartLog {
  /** Byte 0 bit field (CriticalWarningBit); 0 means no warning. */
  criticalWarning: number;
  /** Composite temperature in kelvin (0 when the controller does not report one). */
  temperatureK: number;
  /** Remaining spare capacity, percent of the original. */
  availableSpare: number;
  availableSpareThreshold: number;
  /** Vendor estimate of life used, percent; may exceed 100. */
  percentageUsed: number;
  /** In thousands of 512-byte units, as the spec counts them. */
  dataUnitsRead: number;
  dataUnitsWritten: number;
  hostReadCommands: number;
  hostWriteCommands: number;
  powerOnHours: number;
  unsafeShutdowns: number;
  /** Unrecovered data integrity errors (media errors). */
  mediaErrors: number;
  errorLogEntries: number;
}

/** Little-endian 128-bit counter as a JS number (exact below 2^53, rounded above). */
function u128(buf: Uint8Array, off: number): number {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const lo = dv.getBigUint64(off, true);
  const hi = dv.getBigUint64(off + 8, true);
  return Number((hi << 64n) | lo);
}

/** Parses a SMART / Health log page. Throws RangeError when shorter than 512 bytes. */
export function parseSmartLog(page: Uint8Array): SmartLog {
  if (page.byteLength < SMART_LOG_BYTES) {
    throw new RangeError(`SMART log page is ${page.byteLength} bytes, expected ${SMART_LOG_BYTES}`);
  }
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  return {
    criticalWarning: page[0]!,
    temperatureK: dv.getUint16(1, true),
    availableSpare: page[3]!,
    availableSpareThreshold: page[4]!,
    percentageUsed: page[5]!,
    dataUnitsRead: u128(page, 32),
    dataUnitsWritten: u128(page, 48),
    hostReadCommands: u128(page, 64),
    hostWriteCommands: u128(page, 80),
    powerOnHours: u128(page, 128),
    unsafeShutdowns: u128(page, 144),
    mediaErrors: u128(page, 160),
    errorLogEntries: u128(page, 176),
  };
}

/** Names of the critical warning bits that are set. */
export function criticalWarningNames(criticalWarning: number): string[] {
  return Object.entries(CriticalWarningBit)
    .filter(([, bit]) => (criticalWarning & bit) !== 0)
    .map(([name]) => name);
}

export type AnaState = 'optimized' | 'non-optimized' | 'inaccessible' | 'persistent-loss' | 'change';

/** ANA state codes of the ANA log page (anchors.md): OPTIMIZED 1 ... CHANGE 0x0f. */
export const ANA_STATE_BY_CODE: Readonly<Record<number, AnaState>> = {
  0x01: 'optimized',
  0x02: 'non-optimized',
  0x03: 'inaccessible',
  0x04: 'persistent-loss',
  0x0f: 'change',
};

const ANA_STATES = new Set<string>(Object.values(ANA_STATE_BY_CODE));

/** Parses the kernel's `ana_state` sysfs text; null when empty or unknown. */
export function parseAnaState(text: string | null | undefined): AnaState | null {
  const s = (text ?? '').trim();
  return ANA_STATES.has(s) ? (s as AnaState) : null;
}

/** Whether I/O through a path in this ANA state can be expected to succeed. */
export function anaStateUsable(s: AnaState | null): boolean {
  return s === null || s === 'optimized' || s === 'non-optimized';
}

/** Controller states the kernel shows in /sys/class/nvme/nvmeX/state (nvme_ctrl_state_show). */
export type ControllerState =
  | 'new' | 'live' | 'resetting' | 'connecting' | 'deleting' | 'deleting (no IO)' | 'dead' | 'unknown';

const CONTROLLER_STATES = new Set<string>(['new', 'live', 'resetting', 'connecting', 'deleting', 'deleting (no IO)', 'dead']);

export function parseControllerState(text: string | null | undefined): ControllerState {
  const s = (text ?? '').trim();
  return CONTROLLER_STATES.has(s) ? (s as ControllerState) : 'unknown';
}
