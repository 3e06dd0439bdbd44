import { describe, expect, it } from 'vitest';
import { evaluate, parseCondition, tokenize } from '../../src/alerts/expr.js';
import { METRIC_NAMES } from '../../src/alerts/monitoring.js';
import { ErrorCode, isXdbmError } from '../../src/errors.js';

function errorOf(src: string, names?: ReadonlySet<string>): { code: string; position: number; message: string } {
  try {
    parseCondition(src, names);
  } catch (e) {
    if (!isXdbmError(e)) throw e;
    return { code: e.code, position: e.details?.position as number, message: e.message };
  }
  throw new Error(`expected '${src}' to be rejected`);
}

const run = (src: string, values: Record<string, number>) => evaluate(parseCondition(src), values);

describe('alert expression parser', () => {
  it('parses the four seed conditions over the known metric names', () => {
    for (const c of [
      'failover_events_last_hour > 10',
      'overall_availability < 0.7',
      'p99_operation_latency_us > 10000',
      'healthy_backend_count == 0',
    ]) {
      expect(() => parseCondition(c, METRIC_NAMES)).not.toThrow();
    }
  });

  it('evaluates comparison operators', () => {
    const v = { a: 5 };
    expect(run('a < 6', v)).toBe(true);
    expect(run('a < 5', v)).toBe(false);
    expect(run('a <= 5', v)).toBe(true);
    expect(run('a > 4.5', v)).toBe(true);
    expect(run('a >= 6', v)).toBe(false);
    expect(run('a == 5', v)).toBe(true);
    expect(run('a != 5', v)).toBe(false);
    expect(run('a > -1', v)).toBe(true);
    expect(run('a < 1e3', v)).toBe(true);
  });

  it('gives && precedence over || and ! over both', () => {
    // false || (true && true) => true; a left-to-right reading ((false || true) && false) would differ
    expect(run('a > 9 || a > 1 && a < 9', { a: 5 })).toBe(true);
    expect(run('a > 1 || a > 9 && a < 0', { a: 5 })).toBe(true);
    expect(run('(a > 1 || a > 9) && a < 0', { a: 5 })).toBe(false);
    expect(run('!(a > 1) && a < 0 || a == 5', { a: 5 })).toBe(true);
    expect(run('!(a > 1) || a == 5', { a: 5 })).toBe(true);
    expect(run('!!(a > 1)', { a: 5 })).toBe(true);
  });

  it('reads dotted health_summary names', () => {
    expect(run('health_summary.failed_count >= 2', { 'health_summary.failed_count': 2 })).toBe(true);
  });

  it('rejects anything outside the grammar with a position', () => {
    const call = errorOf('process.exit()');
    expect(call.code).toBe(ErrorCode.EXPRESSION_INVALID);
    expect(call.position).toBe(12);
    expect(call.message).toMatch(/function call/);

    expect(errorOf('a = 1').position).toBe(2);
    expect(errorOf('a > 1 & b').position).toBe(6);
    expect(errorOf('a > "x"').position).toBe(4);
    expect(errorOf('a > ').position).toBe(4);
    expect(errorOf('(a > 1').position).toBe(6);
    expect(errorOf('a > 1)').position).toBe(5);
    expect(errorOf('a[0] > 1').position).toBe(1);
    expect(errorOf('a + 1 > 2').position).toBe(2);
    expect(errorOf('`x` > 1').position).toBe(0);
    expect(errorOf('').code).toBe(ErrorCode.EXPRESSION_INVALID);
    expect(errorOf('1 < a < 3').position).toBe(6);
    expect(errorOf('constructor.constructor("return 1")()').code).toBe(ErrorCode.EXPRESSION_INVALID);
    expect(errorOf('12abc > 1').position).toBe(2);
  });

  it('type-checks: a bare metric or a number is not a condition; && joins conditions', () => {
    expect(errorOf('healthy_backend_count').message).toMatch(/must be a comparison/);
    expect(errorOf('a && b > 1').position).toBe(0);
    expect(errorOf('!a').position).toBe(1);
    expect(errorOf('(a > 1) > 2').position).toBe(3);
  });

  it('rejects unknown metric names when given the metric set', () => {
    const e = errorOf('healthy_backends == 0', METRIC_NAMES);
    expect(e.position).toBe(0);
    expect(e.message).toMatch(/unknown metric 'healthy_backends'/);
    expect(errorOf('overall_availability < 0.7 && bogus > 1', METRIC_NAMES).position).toBe(30);
  });

  it('limits nesting and length', () => {
    expect(errorOf('('.repeat(100) + 'a > 1' + ')'.repeat(100)).message).toMatch(/nested too deeply/);
    expect(errorOf('a > ' + '1'.repeat(2000)).message).toMatch(/longer than/);
  });

  it('tokenizes two-character operators before one-character ones', () => {
    expect(tokenize('a<=1').map((t) => t.text)).toEqual(['a', '<=', '1', '']);
  });

  it('fails evaluation of a metric without value with a code', () => {
    try {
      run('missing > 1', {});
      expect.unreachable();
    } catch (e) {
      expect(isXdbmError(e, ErrorCode.EXPRESSION_INVALID)).toBe(true);
    }
  });
});
