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
  value(path: string): SourcePos | undefined {
    return this.values.get(path);
  }
  key(path: string): SourcePos | undefined {
    return this.keys.get(path);
  }
  isScalar(path: string): boolean {
    return this.scalars.has(path);
  }
}

/** Parses YAML, keeping positions of every node. Never throws for bad input: problems become issues. */
export function readYaml(text: string, rootPath = ''): YamlSource {
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
  const walker = new Walker(doc, positions, posAt);
  const value = doc.contents === null ? null : walker.walk(doc.contents as Node, rootPath, 0);
  return { value, positions, syntaxIssues };
}

const MAX_DEPTH = 64;

class Walker {
  constructor(
    private readonly doc: Document,
    private readonly positions: Positions,
    private readonly posAt: (offset: number) => SourcePos,
  ) {}

  walk(node: Node | null | undefined, path: string, depth: number): unknown {
    if (node === null || node === undefined) return null;
    if (depth > MAX_DEPTH) return null;
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      return this.walk(target as Node | undefined, path, depth + 1);
    }
    if (node.range && !this.positions.values.has(path)) this.positions.values.set(path, this.posAt(node.range[0]));
    if (isScalar(node)) {
      this.positions.scalars.add(path);
      const v = node.value;
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
        if (keyNode?.range) this.positions.keys.set(childPath, this.posAt(keyNode.range[0]));
        out[key] = this.walk(pair.value as Node | null, childPath, depth + 1);
        if (pair.value === null && keyNode?.range) this.positions.values.set(childPath, this.posAt(keyNode.range[0]));
      }
      for (const m of merged) {
        const v = this.walk(m, `${path}<<`, depth + 1);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
            if (!(k in out)) {
              out[k] = val;
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
}
