/**
 * Operation history in a form an outside checker can read: one JSON object per line, Jepsen/Elle
 * style, an `invoke` before each operation and an `ok`, `fail` (definitely not applied) or `info`
 * (outcome unknown) after it. Appends carry the payload's CRC32C and length, reads the same for what
 * came back, so a checker can verify "every acknowledged append reads back byte-identical" and
 * "one payload per index" without the payloads themselves.
 */
import { appendFileSync } from 'node:fs';
import { crc32c } from './crc32c.js';

export interface HistoryEvent {
  type: 'invoke' | 'ok' | 'fail' | 'info';
  f: 'append' | 'read' | 'truncate-suffix' | 'truncate-prefix' | 'open' | 'close';
  process: string;
  /** Logical time: the log's clock. */
  timeMs: number;
  index?: number;
  crc?: number;
  bytes?: number;
  error?: string;
}

export interface HistorySink {
  record(e: HistoryEvent): void;
}

export function payloadDigest(p: Uint8Array): { crc: number; bytes: number } {
  return { crc: crc32c(p), bytes: p.length };
}

/** Appends JSON lines to a file (synchronously: a writer killed with -9 leaves every line it acknowledged). */
export class JsonLinesHistory implements HistorySink {
  constructor(readonly path: string) {}
  record(e: HistoryEvent): void {
    appendFileSync(this.path, `${JSON.stringify(e)}\n`);
  }
}

/** Keeps events in memory (the simulator). */
export class MemoryHistory implements HistorySink {
  readonly events: HistoryEvent[] = [];
  record(e: HistoryEvent): void { this.events.push(e); }
}
