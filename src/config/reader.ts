/**
 * Typed reads of one mapping's fields, recording an issue (never throwing) for a wrong type, a value
 * out of range or an unknown key, and returning the default so validation can go on and find the rest.
 */
import { IssueList, joinPath } from './issues.js';
import { didYouMean } from './suggest.js';

export type Obj = Record<string, unknown>;

/**
 * Checks an alert condition expression; returns undefined when fine, else what is wrong and the
 * 0-based offset inside the condition. The config layer only requires a non-empty string; the alert
 * engine supplies this checker so that a file is judged whole, conditions included.
 */
export type ConditionChecker = (condition: string) => { message: string; offset?: number } | undefined;

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string '${v.length > 40 ? `${v.slice(0, 40)}...` : v}'`;
  return `${typeof v} ${String(v)}`;
}

export interface NumRules {
  min?: number;
  max?: number;
  /** Lower bound excluded (value must be greater than min). */
  minExclusive?: boolean;
  /** Extra hint appended to range messages. */
  hint?: string;
}

export class Reader {
  /**
   * @param baseDir directory that relative paths resolve against (default: working directory)
   * @param checkCondition optional checker of alert conditions (see ConditionChecker)
   */
  constructor(readonly issues: IssueList, readonly baseDir?: string, readonly checkCondition?: ConditionChecker) {}

  /**
   * The mapping at `path` (null counts as an empty one), with every key not in `allowed` reported at
   * the key, with a did-you-mean. Returns undefined (after an issue) when the value is not a mapping.
   */
  map(path: string, value: unknown, allowed: readonly string[], what: string): Obj | undefined {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.issues.add(path, `${what} must be a mapping of keys, got ${typeName(value)}`);
      return undefined;
    }
    const obj = value as Obj;
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) {
        this.issues.add(joinPath(path, k), `unknown key '${k}'${didYouMean(k, allowed)}; valid keys here: ${allowed.join(', ')}`, { at: 'key' });
      }
    }
    return obj;
  }

  /** The list at `path`; undefined (after an issue) when not a list. */
  list(path: string, value: unknown, what: string): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.issues.add(path, `${what} must be a list, got ${typeName(value)}`);
      return undefined;
    }
    return value;
  }

  /** Reports a missing required key of `m` at the parent path; returns true when present. */
  require(m: Obj, parent: string, key: string, hint: string): boolean {
    if (m[key] === undefined) {
      this.issues.missing(parent, key, hint);
      return false;
    }
    return true;
  }

  int(m: Obj, parent: string, key: string, def: number, rules: NumRules = {}): number {
    return this.number(m, parent, key, def, rules, true);
  }

  num(m: Obj, parent: string, key: string, def: number, rules: NumRules = {}): number {
    return this.number(m, parent, key, def, rules, false);
  }

  private number(m: Obj, parent: string, key: string, def: number, rules: NumRules, integer: boolean): number {
    const v = m[key];
    if (v === undefined) return def;
    const path = joinPath(parent, key);
    const kind = integer ? 'an integer' : 'a number';
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      this.issues.add(path, `'${key}' must be ${kind}${rangeText(rules)}, got ${typeName(v)}${quoteHint(v)}`);
      return def;
    }
    if (integer && !Number.isInteger(v)) {
      this.issues.add(path, `'${key}' must be a whole number${rangeText(rules)}, got ${v}`);
      return def;
    }
    const low = rules.min !== undefined && (rules.minExclusive ? v <= rules.min : v < rules.min);
    const high = rules.max !== undefined && v > rules.max;
    if (low || high) {
      this.issues.add(path, `'${key}' is ${v} but must be${rangeText(rules)}${rules.hint ? `: ${rules.hint}` : ''}`);
      return def;
    }
    return v;
  }

  bool(m: Obj, parent: string, key: string, def: boolean): boolean {
    const v = m[key];
    if (v === undefined) return def;
    if (typeof v !== 'boolean') {
      this.issues.add(joinPath(parent, key), `'${key}' must be true or false, got ${typeName(v)}${quoteHint(v)}`);
      return def;
    }
    return v;
  }

  str(m: Obj, parent: string, key: string, def: string): string {
    const v = m[key];
    if (v === undefined) return def;
    if (typeof v !== 'string' || v.length === 0) {
      this.issues.add(joinPath(parent, key), `'${key}' must be a non-empty string, got ${typeName(v)}`);
      return def;
    }
    return v;
  }

  oneOf<T extends string>(m: Obj, parent: string, key: string, choices: readonly T[], def: T): T {
    const v = m[key];
    if (v === undefined) return def;
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
      const got = typeof v === 'string' ? `'${v}'${didYouMean(v, choices)}` : typeName(v);
      this.issues.add(joinPath(parent, key), `'${key}' is ${got}; valid values: ${choices.join(', ')}`);
      return def;
    }
    return v as T;
  }

  /** A string -> string mapping (numbers and booleans are taken as their text). */
  labels(m: Obj, parent: string, key: string): Record<string, string> {
    const path = joinPath(parent, key);
    const v = m[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) {
      this.issues.add(path, `'${key}' must be a mapping of label names to values (e.g. rack: r1), got ${typeName(v)}`);
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as Obj)) {
      if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) || k === '__proto__') {
        this.issues.add(joinPath(path, k), `label name '${k}' must start with a letter or '_' and hold only letters, digits, '_', '.', '-'`, { at: 'key' });
      } else if (typeof val === 'string' && val.length > 0) {
        out[k] = val;
      } else if (typeof val === 'number' || typeof val === 'boolean') {
        out[k] = String(val);
      } else {
        this.issues.add(joinPath(path, k), `label '${k}' must have a non-empty text value, got ${typeName(val)}`);
      }
    }
    return out;
  }
}

function rangeText(r: NumRules): string {
  const lo = r.min === undefined ? '' : r.minExclusive ? `greater than ${r.min}` : `at least ${r.min}`;
  const hi = r.max === undefined ? '' : `at most ${r.max}`;
  if (lo && hi) return ` ${lo} and ${hi}`;
  return lo || hi ? ` ${lo || hi}` : '';
}

function quoteHint(v: unknown): string {
  if (typeof v === 'string' && v.trim() !== '' && (Number.isFinite(Number(v)) || v === 'true' || v === 'false')) {
    return ' (remove the quotes)';
  }
  return '';
}
