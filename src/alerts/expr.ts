/**
 * Alert condition expressions (seed section 8: `failover_events_last_hour > 10`, ...).
 *
 * A small recursive-descent parser; nothing here ever reaches eval or Function. Grammar:
 *
 *   expr       := or
 *   or         := and ( '||' and )*
 *   and        := comparison ( '&&' comparison )*
 *   comparison := unary ( ( '<' | '<=' | '>' | '>=' | '==' | '!=' ) unary )?
 *   unary      := '!' unary | primary
 *   primary    := NUMBER | '-' NUMBER | METRIC | '(' expr ')'
 *   METRIC     := [A-Za-z_][A-Za-z0-9_]* ( '.' [A-Za-z_][A-Za-z0-9_]* )*
 *
 * Types are checked after parsing: comparisons take numbers, `&&` `||` `!` take booleans, and the
 * whole condition must be a boolean. Every error carries the 0-based position in the text.
 */
import { ErrorCode, XdbmError } from '../errors.js';

export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

export type Expr =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'metric'; name: string; pos: number }
  | { kind: 'compare'; op: CompareOp; left: Expr; right: Expr; pos: number }
  | { kind: 'and' | 'or'; left: Expr; right: Expr; pos: number }
  | { kind: 'not'; operand: Expr; pos: number };

type TokenKind = 'number' | 'ident' | 'op' | 'lparen' | 'rparen' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
}

const MAX_EXPRESSION_CHARS = 1024;
const MAX_DEPTH = 64;
const TWO_CHAR_OPS = new Set(['<=', '>=', '==', '!=', '&&', '||']);
const ONE_CHAR_OPS = new Set(['<', '>', '!', '-']);
const COMPARE_OPS = new Set<string>(['<', '<=', '>', '>=', '==', '!=']);

export function expressionError(expression: string, pos: number, what: string): XdbmError {
  const column = pos + 1;
  return new XdbmError(
    ErrorCode.EXPRESSION_INVALID,
    `${what} at position ${column} of \`${expression}\``,
    { details: { expression, position: pos, column } },
  );
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || (c === '.' && isDigit(src[i + 1] ?? ''))) {
      while (isDigit(src[i] ?? '')) i++;
      if (src[i] === '.') {
        i++;
        while (isDigit(src[i] ?? '')) i++;
      }
      if (src[i] === 'e' || src[i] === 'E') {
        let j = i + 1;
        if (src[j] === '+' || src[j] === '-') j++;
        if (!isDigit(src[j] ?? '')) throw expressionError(src, i, 'malformed number exponent');
        i = j;
        while (isDigit(src[i] ?? '')) i++;
      }
      if (isIdentStart(src[i] ?? '')) throw expressionError(src, i, `unexpected '${src[i]}' after a number`);
      out.push({ kind: 'number', text: src.slice(start, i), pos: start });
      continue;
    }
    if (isIdentStart(c)) {
      i++;
      for (;;) {
        while (isIdentPart(src[i] ?? '')) i++;
        if (src[i] === '.' && isIdentStart(src[i + 1] ?? '')) {
          i++;
          continue;
        }
        break;
      }
      out.push({ kind: 'ident', text: src.slice(start, i), pos: start });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (TWO_CHAR_OPS.has(two)) {
      out.push({ kind: 'op', text: two, pos: start });
      i += 2;
      continue;
    }
    if (ONE_CHAR_OPS.has(c)) {
      out.push({ kind: 'op', text: c, pos: start });
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, pos: start });
      i++;
      continue;
    }
    const hint = c === '=' ? " (use '==' to compare)" : c === '&' || c === '|' ? " (use '&&' or '||')" : '';
    throw expressionError(src, i, `unexpected character '${c}'${hint}`);
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

class Parser {
  #i = 0;
  #depth = 0;
  constructor(private readonly src: string, private readonly toks: Token[]) {}

  parse(): Expr {
    const e = this.#or();
    const t = this.#peek();
    if (t.kind !== 'end') throw this.#unexpected(t, 'end of expression');
    return e;
  }

  #peek(): Token {
    return this.toks[this.#i]!;
  }
  #next(): Token {
    return this.toks[this.#i++]!;
  }
  #unexpected(t: Token, wanted: string): XdbmError {
    if (t.kind === 'end') return expressionError(this.src, t.pos, `unexpected end of expression, expected ${wanted}`);
    return expressionError(this.src, t.pos, `unexpected '${t.text}', expected ${wanted}`);
  }

  #or(): Expr {
    let left = this.#and();
    while (this.#peek().text === '||' && this.#peek().kind === 'op') {
      const op = this.#next();
      left = { kind: 'or', left, right: this.#and(), pos: op.pos };
    }
    return left;
  }

  #and(): Expr {
    let left = this.#comparison();
    while (this.#peek().text === '&&' && this.#peek().kind === 'op') {
      const op = this.#next();
      left = { kind: 'and', left, right: this.#comparison(), pos: op.pos };
    }
    return left;
  }

  #comparison(): Expr {
    const left = this.#unary();
    const t = this.#peek();
    if (t.kind === 'op' && COMPARE_OPS.has(t.text)) {
      this.#next();
      const right = this.#unary();
      const after = this.#peek();
      if (after.kind === 'op' && COMPARE_OPS.has(after.text)) {
        throw expressionError(this.src, after.pos, 'chained comparison; join comparisons with && instead');
      }
      return { kind: 'compare', op: t.text as CompareOp, left, right, pos: t.pos };
    }
    return left;
  }

  #unary(): Expr {
    const t = this.#peek();
    if (t.kind === 'op' && t.text === '!') {
      this.#next();
      if (++this.#depth > MAX_DEPTH) throw expressionError(this.src, t.pos, 'expression nested too deeply');
      const operand = this.#unary();
      this.#depth--;
      return { kind: 'not', operand, pos: t.pos };
    }
    return this.#primary();
  }

  #primary(): Expr {
    const t = this.#next();
    switch (t.kind) {
      case 'number':
        return { kind: 'number', value: parseNumber(this.src, t), pos: t.pos };
      case 'ident':
        if (this.#peek().kind === 'lparen') {
          throw expressionError(this.src, this.#peek().pos, 'function calls are not part of the grammar');
        }
        return { kind: 'metric', name: t.text, pos: t.pos };
      case 'op':
        if (t.text === '-' && this.#peek().kind === 'number') {
          const n = this.#next();
          return { kind: 'number', value: -parseNumber(this.src, n), pos: t.pos };
        }
        this.#i--;
        throw this.#unexpected(this.#next(), 'a metric name, a number or (');
      case 'lparen': {
        if (++this.#depth > MAX_DEPTH) throw expressionError(this.src, t.pos, 'expression nested too deeply');
        const inner = this.#or();
        this.#depth--;
        const close = this.#next();
        if (close.kind !== 'rparen') {
          this.#i--;
          throw this.#unexpected(this.#next(), "')'");
        }
        return inner;
      }
      default:
        this.#i--;
        throw this.#unexpected(this.#next(), 'a metric name, a number or (');
    }
  }
}

function parseNumber(src: string, t: Token): number {
  const v = Number(t.text);
  if (!Number.isFinite(v)) throw expressionError(src, t.pos, `number out of range '${t.text}'`);
  return v;
}

type ValueType = 'number' | 'boolean';

function typeOf(src: string, e: Expr, metricNames?: ReadonlySet<string>): ValueType {
  switch (e.kind) {
    case 'number':
      return 'number';
    case 'metric':
      if (metricNames && !metricNames.has(e.name)) {
        throw expressionError(src, e.pos, `unknown metric '${e.name}' (known: ${[...metricNames].join(', ')})`);
      }
      return 'number';
    case 'compare':
      for (const side of [e.left, e.right]) {
        if (typeOf(src, side, metricNames) !== 'number') {
          throw expressionError(src, side.pos, `'${e.op}' compares numbers, not a condition`);
        }
      }
      return 'boolean';
    case 'and':
    case 'or':
      for (const side of [e.left, e.right]) {
        if (typeOf(src, side, metricNames) !== 'boolean') {
          throw expressionError(src, side.pos, `'${e.kind === 'and' ? '&&' : '||'}' joins conditions; compare this number first, e.g. \`x > 0\``);
        }
      }
      return 'boolean';
    case 'not':
      if (typeOf(src, e.operand, metricNames) !== 'boolean') {
        throw expressionError(src, e.operand.pos, "'!' negates a condition; compare this number first, e.g. `!(x > 0)`");
      }
      return 'boolean';
  }
}

/**
 * Parses and type-checks a condition. With `metricNames`, unknown metric names are errors too.
 * Throws XdbmError XDBM_EXPRESSION_INVALID with details.position (0-based) and details.column.
 */
export function parseCondition(src: string, metricNames?: ReadonlySet<string>): Expr {
  if (typeof src !== 'string') throw expressionError(String(src), 0, 'condition must be a string');
  if (src.length > MAX_EXPRESSION_CHARS) {
    throw expressionError(src.slice(0, 40) + '...', MAX_EXPRESSION_CHARS, `condition longer than ${MAX_EXPRESSION_CHARS} characters`);
  }
  if (src.trim() === '') throw expressionError(src, 0, 'empty condition');
  const ast = new Parser(src, tokenize(src)).parse();
  if (typeOf(src, ast, metricNames) !== 'boolean') {
    throw expressionError(src, ast.pos, 'condition must be a comparison, e.g. `healthy_backend_count == 0`');
  }
  return ast;
}

/** Evaluates a parsed expression over metric values. A metric missing from `values` is an error. */
export function evaluate(e: Expr, values: Readonly<Record<string, number>>): boolean | number {
  switch (e.kind) {
    case 'number':
      return e.value;
    case 'metric': {
      const v = values[e.name];
      if (typeof v !== 'number') {
        throw new XdbmError(ErrorCode.EXPRESSION_INVALID, `metric '${e.name}' has no value`, { details: { metric: e.name } });
      }
      return v;
    }
    case 'compare': {
      const l = evaluate(e.left, values) as number;
      const r = evaluate(e.right, values) as number;
      switch (e.op) {
        case '<': return l < r;
        case '<=': return l <= r;
        case '>': return l > r;
        case '>=': return l >= r;
        case '==': return l === r;
        case '!=': return l !== r;
      }
      break;
    }
    case 'and':
      return Boolean(evaluate(e.left, values)) && Boolean(evaluate(e.right, values));
    case 'or':
      return Boolean(evaluate(e.left, values)) || Boolean(evaluate(e.right, values));
    case 'not':
      return !evaluate(e.operand, values);
  }
  return false;
}

/** Metric names an expression reads (for documentation and checks). */
export function metricsOf(e: Expr, into: Set<string> = new Set()): Set<string> {
  if (e.kind === 'metric') into.add(e.name);
  else if (e.kind === 'compare' || e.kind === 'and' || e.kind === 'or') {
    metricsOf(e.left, into);
    metricsOf(e.right, into);
  } else if (e.kind === 'not') metricsOf(e.operand, into);
  return into;
}
