/**
 * YAML text -> plain value + the source position of every path. The validator works on the plain
 * value and asks the PositionMap where a path sits, so YAML files and plain objects share one validator.
 * Aliases are followed; `<<` merge keys copy the merged mapping's entries that are not set locally.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { joinPath, type ConfigIssue, type PositionMap, type SourcePos } from './issues.js';

export interface YamlSource {
  value: unknown;
  positions: PositionMap;
  /** Syntax errors (and duplicate keys); when present, value is not worth validating. */
  syntaxIssues: ConfigIssue[];
}

class Positions implements PositionMap {
  readonly values = new Map<string, SourcePos>();
  readonly keys = new Map<string, SourcePos>();
  readonly scalars = new Set<string>();
  readonly starts = new Map<string, SourcePos>();
  value(path: string): SourcePos | undefined {
    return this.values.get(path);
  }
  key(path: string): SourcePos | undefined {
    return this.keys.get(path);
  }
  isScalar(path: string): boolean {
    return this.scalars.has(path);
  }
  contentStart(path: string): SourcePos | undefined {
    return this.starts.get(path);
  }
}

/** The position tables as plain Maps and a Set (what crosses a worker boundary). */
export interface PositionTables {
  values: Map<string, SourcePos>;
  keys: Map<string, SourcePos>;
  scalars: Set<string>;
  starts: Map<string, SourcePos>;
}

export function positionTables(p: PositionMap): PositionTables {
  const x = p as Positions;
  return { values: x.values, keys: x.keys, scalars: x.scalars, starts: x.starts };
}

export function positionsFrom(t: PositionTables): PositionMap {
  const p = new Positions();
  for (const [k, v] of t.values) p.values.set(k, v);
  for (const [k, v] of t.keys) p.keys.set(k, v);
  for (const k of t.scalars) p.scalars.add(k);
  for (const [k, v] of t.starts) p.starts.set(k, v);
  return p;
}

/** Parses YAML, keeping positions of every node. Never throws for bad input: problems become issues. */
export function readYaml(text: string, rootPath = ''): YamlSource {
  const tooBig = sizeIssue(text, rootPath);
  if (tooBig) return { value: undefined, positions: new Positions(), syntaxIssues: [tooBig] };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true });
  const posAt = (offset: number): SourcePos => {
    const lp = lineCounter.linePos(offset);
    return { line: lp.line, column: lp.col };
  };
  const syntaxIssues: ConfigIssue[] = doc.errors.map((e) => {
    const pos = posAt(e.pos[0]);
    const message = e.code === 'DUPLICATE_KEY'
      ? 'duplicate key in one mapping: keep only one of them'
      : `YAML syntax error: ${e.message.split('\n')[0]}`;
    return { path: rootPath, line: pos.line, column: pos.column, message };
  });
  const positions = new Positions();
  if (syntaxIssues.length > 0) return { value: undefined, positions, syntaxIssues };
  const walker = new Walker(doc, positions, posAt, text);
  try {
    const value = doc.contents === null ? null : walker.walk(doc.contents as Node, rootPath, 0);
    return { value, positions, syntaxIssues };
  } catch (e) {
    if (!(e instanceof ExpansionLimit)) throw e;
    return { value: undefined, positions: new Positions(), syntaxIssues: [{ path: rootPath, line: e.at.line, column: e.at.column, message: e.message }] };
  }
}

/**
 * Upper bound of a configuration file or node file. The real files are a few KiB; the bound keeps a
 * runaway or hostile input from costing the parser (which runs on the daemon's event loop) much time.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;
/**
 * Alias bounds. A 300-byte file of nested aliases expands to billions of nodes (the "billion laughs"),
 * so a depth limit alone is no bound: count every alias followed and every node produced, and stop at
 * the first excess with the position of the alias that crossed it. The walker, not the library's
 * toJS, expands aliases (it records positions), so it applies the bound the library applies with its
 * `maxAliasCount` option (default 100, the same figure); a real config uses a handful of anchors.
 */
export const MAX_ALIAS_EXPANSIONS = 100;
export const MAX_EXPANDED_NODES = 20_000;
const MAX_DEPTH = 64;

/** Thrown inside the walker to stop it at once; turned into a syntax issue by readYaml. */
class ExpansionLimit extends Error {
  constructor(message: string, readonly at: SourcePos) {
    super(message);
  }
}

/**
 * Rejects input larger than MAX_CONFIG_BYTES before parsing; returns the issue or undefined. Also called
 * by readYaml so every entry point (validate, reload, nodes add, admin `validate`) shares the bound.
 */
export function sizeIssue(text: string, rootPath = ''): ConfigIssue | undefined {
  const bytes = Buffer.byteLength(text);
  if (bytes <= MAX_CONFIG_BYTES) return undefined;
  return { path: rootPath, line: 1, column: 1, message: `input is ${bytes} bytes, more than the limit of ${MAX_CONFIG_BYTES} bytes for a configuration file` };
}

class Walker {
  #aliases = 0;
  #nodes = 0;
  /** The alias in the document body being expanded, the place worth pointing at in a refusal. */
  #outer: SourcePos | undefined;

  constructor(
    private readonly doc: Document,
    private readonly positions: Positions,
    private readonly posAt: (offset: number) => SourcePos,
    private readonly text: string,
  ) {}

  walk(node: Node | null | undefined, path: string, depth: number): unknown {
    if (node === null || node === undefined) return null;
    if (depth > MAX_DEPTH) return null;
    if (++this.#nodes > MAX_EXPANDED_NODES) {
      throw new ExpansionLimit(`YAML expands to more than ${MAX_EXPANDED_NODES} nodes (through aliases): refused`, this.#at(node));
    }
    if (isAlias(node)) {
      if (++this.#aliases > MAX_ALIAS_EXPANSIONS) {
        throw new ExpansionLimit(`YAML follows more than ${MAX_ALIAS_EXPANSIONS} aliases: refused (an alias bomb, or anchors overused)`, this.#at(node));
      }
      const outermost = this.#outer === undefined;
      if (outermost) this.#outer = this.#at(node);
      try {
        const target = node.resolve(this.doc);
        return this.walk(target as Node | undefined, path, depth + 1);
      } finally {
        if (outermost) this.#outer = undefined;
      }
    }
    if (node.range && !this.positions.values.has(path)) this.positions.values.set(path, this.posAt(node.range[0]));
    if (isScalar(node)) {
      this.positions.scalars.add(path);
      const v = node.value;
      if (typeof v === 'string' && node.range && (node.type === 'PLAIN' || node.type === 'QUOTE_SINGLE' || node.type === 'QUOTE_DOUBLE')) {
        const q = node.type === 'PLAIN' ? 0 : 1;
        const raw = this.text.slice(node.range[0] + q, node.range[0] + q + v.length);
        if (raw === v && !v.includes('\n')) this.positions.starts.set(path, this.posAt(node.range[0] + q));
      }
      return typeof v === 'bigint' ? Number(v) : v;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => this.walk(item as Node, joinPath(path, i), depth + 1));
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const merged: Node[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const rawKey = isScalar(keyNode) ? keyNode.value : undefined;
        // with merge enabled the parser turns a `<<` key into a symbol
        if (isScalar(keyNode) && (typeof rawKey === 'symbol' || (rawKey === '<<' && keyNode.source === '<<'))) {
          // merge key: `<<: *defaults` or `<<: [*a, *b]`
          const v = pair.value as Node | null;
          if (isSeq(v)) merged.push(...(v.items as Node[]));
          else if (v) merged.push(v);
          continue;
        }
        const key = String(rawKey);
        const childPath = joinPath(path, key);
        // top-level `x-` keys are ignored by the validator (a place for anchors): never expand them
        if (depth === 0 && key.startsWith('x-')) {
          Object.defineProperty(out, key, { value: null, enumerable: true, writable: true, configurable: true });
          continue;
        }
        if (keyNode?.range) this.positions.keys.set(childPath, this.posAt(keyNode.range[0]));
        // defineProperty: a `__proto__` key stays an own key (reported as unknown), never a prototype
        Object.defineProperty(out, key, { value: this.walk(pair.value as Node | null, childPath, depth + 1), enumerable: true, writable: true, configurable: true });
        if (pair.value === null && keyNode?.range) this.positions.values.set(childPath, this.posAt(keyNode.range[0]));
      }
      for (const m of merged) {
        const v = this.walk(m, `${path}<<`, depth + 1);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
            if (!Object.hasOwn(out, k)) {
              Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
              const childPath = joinPath(path, k);
              const at = m.range ? this.posAt(m.range[0]) : undefined;
              if (at) {
                this.positions.keys.set(childPath, at);
                this.positions.values.set(childPath, at);
              }
            }
          }
        }
      }
      return out;
    }
    return null;
  }

  /** Where to report an excess: the outermost alias being expanded, else the node itself. */
  #at(node: Node): SourcePos {
    if (this.#outer) return this.#outer;
    return node.range ? this.posAt(node.range[0]) : { line: 1, column: 1 };
  }
}
