import { describe, expect, it } from 'vitest';
import { AlertEvaluator, checkAlertRules } from '../../src/alerts/evaluator.js';
import type { AlertRuleConfig } from '../../src/config/types.js';

const rule = (over: Partial<AlertRuleConfig>): AlertRuleConfig => ({
  ruleName: 'R',
  condition: 'healthy_backend_count == 0',
  severity: 'critical',
  evaluationIntervalSec: 10,
  consecutiveThreshold: 1,
  enabled: true,
  ...over,
});

const SEED_DEFAULTS: AlertRuleConfig[] = [
  rule({ ruleName: 'HighFailoverRate', condition: 'failover_events_last_hour > 10', severity: 'warning', evaluationIntervalSec: 60, consecutiveThreshold: 2 }),
  rule({ ruleName: 'LowBackendAvailability', condition: 'overall_availability < 0.7', severity: 'critical', evaluationIntervalSec: 30, consecutiveThreshold: 1 }),
  rule({ ruleName: 'HighOperationLatency', condition: 'p99_operation_latency_us > 10000', severity: 'warning', evaluationIntervalSec: 120, consecutiveThreshold: 3 }),
  rule({ ruleName: 'NoHealthyBackends', condition: 'healthy_backend_count == 0', severity: 'critical', evaluationIntervalSec: 10, consecutiveThreshold: 1 }),
];

describe('alert rule evaluation', () => {
  it('fires only after the consecutive threshold and resolves after as many false evaluations (hysteresis)', () => {
    const ev = new AlertEvaluator([SEED_DEFAULTS[2]!]);
    const slow = { p99_operation_latency_us: 20_000 };
    const fast = { p99_operation_latency_us: 500 };
    expect(ev.tick(0, slow)).toEqual([]);
    expect(ev.tick(120_000, slow)).toEqual([]);
    const fired = ev.tick(240_000, slow);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ ruleName: 'HighOperationLatency', kind: 'firing', severity: 'warning', values: slow });
    expect(ev.firing().map((s) => s.ruleName)).toEqual(['HighOperationLatency']);
    expect(ev.tick(360_000, slow)).toEqual([]); // still firing, no new transition
    expect(ev.tick(480_000, fast)).toEqual([]);
    expect(ev.tick(600_000, slow)).toEqual([]); // one slow evaluation between fast ones: no new page
    expect(ev.tick(720_000, fast)).toEqual([]);
    expect(ev.tick(840_000, fast)).toEqual([]);
    expect(ev.tick(960_000, fast)).toMatchObject([{ kind: 'resolved' }]); // auto-clears after 3 clear evaluations
    expect(ev.firing()).toEqual([]);
  });

  it('a false evaluation resets the consecutive count', () => {
    const ev = new AlertEvaluator([rule({ consecutiveThreshold: 2, evaluationIntervalSec: 1 })]);
    ev.tick(0, { healthy_backend_count: 0 });
    ev.tick(1000, { healthy_backend_count: 3 });
    expect(ev.tick(2000, { healthy_backend_count: 0 })).toEqual([]);
    expect(ev.tick(3000, { healthy_backend_count: 0 })).toHaveLength(1);
  });

  it('evaluates a rule only when its interval has passed', () => {
    const ev = new AlertEvaluator([rule({ consecutiveThreshold: 2, evaluationIntervalSec: 10 })]);
    ev.tick(0, { healthy_backend_count: 0 });
    // 9.999 s later the rule is not due: no second evaluation, so no firing yet
    expect(ev.tick(9_999, { healthy_backend_count: 0 })).toEqual([]);
    expect(ev.states()[0]!.consecutive).toBe(1);
    expect(ev.tick(10_000, { healthy_backend_count: 0 })).toHaveLength(1);
  });

  it('skips disabled rules', () => {
    const ev = new AlertEvaluator([rule({ enabled: false })]);
    expect(ev.tick(0, { healthy_backend_count: 0 })).toEqual([]);
    expect(ev.states()[0]!.lastEvaluatedMs).toBe(0);
  });

  it('keeps the state of unchanged rules across setRules and restarts changed ones', () => {
    const ev = new AlertEvaluator([rule({ ruleName: 'A' }), rule({ ruleName: 'B' })]);
    ev.tick(0, { healthy_backend_count: 0 });
    expect(ev.firing()).toHaveLength(2);
    ev.setRules([rule({ ruleName: 'A', severity: 'warning' }), rule({ ruleName: 'B', condition: 'healthy_backend_count < 1' })]);
    const firing = ev.firing();
    expect(firing.map((s) => s.ruleName)).toEqual(['A']);
    expect(firing[0]!.severity).toBe('warning');
  });

  it('records a metric without value as an error instead of firing', () => {
    const ev = new AlertEvaluator([rule({})]);
    expect(ev.tick(0, {})).toEqual([]);
    expect(ev.states()[0]!.lastError).toMatch(/no value/);
  });

  it('the seed defaults are valid; bad rules are reported with their position', () => {
    expect(checkAlertRules(SEED_DEFAULTS)).toEqual([]);
    const issues = checkAlertRules([
      rule({ ruleName: 'Bad', condition: 'healthy_backend_count === 0' }),
      rule({ ruleName: 'Bad', consecutiveThreshold: 0, evaluationIntervalSec: 0 }),
    ]);
    expect(issues[0]).toMatchObject({ index: 0, ruleName: 'Bad', position: 24 });
    expect(issues.map((i) => i.message).join('\n')).toMatch(/duplicate rule name/);
    expect(issues.map((i) => i.message).join('\n')).toMatch(/consecutive_threshold/);
    expect(issues.map((i) => i.message).join('\n')).toMatch(/evaluation_interval_sec/);
  });
});
