/**
 * Configuration issues: collected while validating (never thrown one by one), then thrown together as
 * one XDBM_CONFIG_INVALID error whose details carry every issue with its path and position.
 */
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';

export interface ConfigIssue {
  /** Dotted path with [index] for list items, e.g. `dynamic_backend_manager.candidate_nodes[1].endpoints[0].weight`. */
  path: string;
  /** 1-based line and column of the offending node (or of its parent key when a key is missing); absent without a source. */
  line?: number;
  column?: number;
  /** What is wrong and how to fix it. */
  message: string;
  /** A more specific stable code when there is one (XDBM_BAD_CONNECTION_STRING, XDBM_DUPLICATE_ID). */
  code?: ErrorCode;
}

export interface SourcePos {
  line: number;
  column: number;
}

/** Where each path sits in the source. `key` is the key of a map entry, `value` the node itself. */
export interface PositionMap {
  value(path: string): SourcePos | undefined;
  key(path: string): SourcePos | undefined;
  /** True when the node at path is a scalar (its own position is then the best one to report). */
  isScalar(path: string): boolean;
  /** Where the text of a one-line scalar starts when source and value match character for character. */
  contentStart?(path: string): SourcePos | undefined;
}

export const NO_POSITIONS: PositionMap = {
  value: () => undefined,
  key: () => undefined,
  isScalar: () => false,
};

export type IssueAt = 'node' | 'key';

export class IssueList {
  readonly items: ConfigIssue[] = [];

  constructor(private readonly positions: PositionMap = NO_POSITIONS) {}

  /**
   * Records an issue. `at: 'node'` (default) reports a scalar at its value and a mapping or list at its
   * key (the `weights:` line rather than its first child); `at: 'key'` reports the key itself (unknown keys).
   */
  add(path: string, message: string, opts: { at?: IssueAt; code?: ErrorCode; offset?: number } = {}): void {
    const issue: ConfigIssue = { path, message };
    const start = opts.offset !== undefined ? this.positions.contentStart?.(path) : undefined;
    let pos = start ? { line: start.line, column: start.column + opts.offset! } : this.positionOf(path, opts.at ?? 'node');
    if (!pos && this.positions !== NO_POSITIONS) pos = { line: 1, column: 1 }; // e.g. an empty document
    if (pos) {
      issue.line = pos.line;
      issue.column = pos.column;
    }
    if (opts.code !== undefined) issue.code = opts.code;
    this.items.push(issue);
  }

  /** A key that should be under `parentPath` is missing: reported at the parent's key. */
  missing(parentPath: string, key: string, hint: string): void {
    const path = parentPath === '' ? key : `${parentPath}.${key}`;
    const issue: ConfigIssue = { path, message: `missing required key '${key}': ${hint}` };
    const pos = this.positionOf(parentPath, 'node') ?? { line: 1, column: 1 };
    if (this.positions !== NO_POSITIONS) {
      issue.line = pos.line;
      issue.column = pos.column;
    }
    this.items.push(issue);
  }

  /** Position of a path, walking up to the nearest ancestor the source knows. */
  positionOf(path: string, at: IssueAt): SourcePos | undefined {
    let p: string | undefined = path;
    let first = true;
    while (p !== undefined) {
      const pos = first && at === 'key'
        ? this.positions.key(p) ?? this.positions.value(p)
        : this.positions.isScalar(p)
          ? this.positions.value(p)
          : this.positions.key(p) ?? this.positions.value(p);
      if (pos) return pos;
      first = false;
      p = parentPath(p);
    }
    return undefined;
  }

  /** `path (line N)` when the source knows where path is, else `path`: for "first defined at" messages. */
  describe(path: string): string {
    const pos = this.positionOf(path, 'node');
    return pos ? `${path} (line ${pos.line})` : path;
  }

  get length(): number {
    return this.items.length;
  }
}

/** `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> '' -> undefined */
export function parentPath(path: string): string | undefined {
  if (path === '') return undefined;
  const m = /(\.[^.[\]]*|\[\d+\])$/.exec(path);
  if (!m) return '';
  return path.slice(0, m.index);
}

export function joinPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

function positionText(sourceName: string | undefined, i: ConfigIssue): string {
  const where = i.line !== undefined ? `${sourceName ?? '<config>'}:${i.line}:${i.column}` : sourceName;
  return where === undefined ? '' : `${where} `;
}

/** One line per issue: `file:line:col path: message`, sorted by position. */
export function formatIssueLines(issues: readonly ConfigIssue[], sourceName?: string): string[] {
  return sortIssues(issues).map((i) => `${positionText(sourceName, i)}${i.path ? `${i.path}: ` : ''}${i.message}`);
}

export function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/** Throws XDBM_CONFIG_INVALID carrying every issue, when there are any. */
export function throwIfIssues(issues: IssueList | readonly ConfigIssue[], sourceName?: string, code: ErrorCode = ErrorCode.CONFIG_INVALID): void {
  const list = issues instanceof IssueList ? issues.items : issues;
  if (list.length === 0) return;
  const sorted = sortIssues(list);
  const first = formatIssueLines([sorted[0]!], sourceName)[0];
  const n = sorted.length;
  const summary = `${sourceName ?? 'configuration'}: ${n} configuration error${n === 1 ? '' : 's'}; first: ${first}`;
  throw new XdbmError(code, summary, { details: { issues: sorted, sourceName } });
}

/** Issues carried by an XDBM_CONFIG_INVALID (or XDBM_DUPLICATE_ID) error, or [] for any other error. */
export function issuesOf(err: unknown): ConfigIssue[] {
  if (!isXdbmError(err)) return [];
  const issues = err.details?.['issues'];
  return Array.isArray(issues) ? (issues as ConfigIssue[]) : [];
}

/**
 * Human text for a configuration error: one `file:line:col path: message` line per issue; other
 * errors give their message.
 */
export function formatConfigIssues(err: unknown): string {
  const issues = issuesOf(err);
  if (issues.length === 0) return err instanceof Error ? err.message : String(err);
  const source = isXdbmError(err) && typeof err.details?.['sourceName'] === 'string' ? (err.details['sourceName'] as string) : undefined;
  return formatIssueLines(issues, source).join('\n');
}
