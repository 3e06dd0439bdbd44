/**
 * Alert rule evaluation (seed section 8 alert_rule_t): each enabled rule is evaluated every
 * evaluationIntervalSec; it fires after consecutiveThreshold true evaluations in a row and resolves
 * after as many false ones in a row (hysteresis: a condition that flickers around its threshold
 * neither pages and clears at every evaluation nor stays stuck; a clear condition always clears it).
 * Pure: the caller passes the time and the metric values.
 */
import type { AlertRuleConfig, AlertSeverity } from '../config/types.js';
import { isXdbmError } from '../errors.js';
import { evaluate, metricsOf, parseCondition, type Expr } from './expr.js';
import { METRIC_NAMES } from './monitoring.js';

export interface AlertRuleState {
  ruleName: string;
  condition: string;
  severity: AlertSeverity;
  enabled: boolean;
  evaluationIntervalSec: number;
  consecutiveThreshold: number;
  firing: boolean;
  /** True evaluations in a row so far. */
  consecutive: number;
  /** False evaluations in a row while firing (it resolves at consecutiveThreshold). */
  consecutiveClear: number;
  /** Date.now() of the last evaluation, 0 when never. */
  lastEvaluatedMs: number;
  lastResult: boolean | null;
  /** When the alert started firing, 0 when not firing. */
  firingSinceMs: number;
  /** Why the last evaluation could not be done (e.g. a metric without value). */
  lastError?: string;
}

export interface AlertTransition {
  ruleName: string;
  severity: AlertSeverity;
  condition: string;
  kind: 'firing' | 'resolved';
  atMs: number;
  /** Metric values at the evaluation that caused the transition (only the ones the rule reads). */
  values: Record<string, number>;
}

export interface AlertRuleIssue {
  index: number;
  ruleName: string;
  message: string;
  /** 0-based position inside the condition, when the problem is in it. */
  position?: number;
  column?: number;
}

/** Validates alert rules: conditions parse over known metric names, thresholds and names are sane. */
export function checkAlertRules(rules: readonly AlertRuleConfig[]): AlertRuleIssue[] {
  const issues: AlertRuleIssue[] = [];
  const seen = new Set<string>();
  rules.forEach((r, index) => {
    const ruleName = r.ruleName;
    if (seen.has(ruleName)) issues.push({ index, ruleName, message: `duplicate rule name '${ruleName}'` });
    seen.add(ruleName);
    if (!(r.evaluationIntervalSec > 0)) {
      issues.push({ index, ruleName, message: 'evaluation_interval_sec must be > 0' });
    }
    if (!Number.isInteger(r.consecutiveThreshold) || r.consecutiveThreshold < 1) {
      issues.push({ index, ruleName, message: 'consecutive_threshold must be an integer >= 1' });
    }
    try {
      parseCondition(r.condition, METRIC_NAMES);
    } catch (e) {
      if (!isXdbmError(e)) throw e;
      const d = e.details ?? {};
      issues.push({
        index,
        ruleName,
        message: `condition: ${e.message}`,
        position: typeof d.position === 'number' ? d.position : undefined,
        column: typeof d.column === 'number' ? d.column : undefined,
      });
    }
  });
  return issues;
}

interface Entry {
  rule: AlertRuleConfig;
  expr: Expr;
  state: AlertRuleState;
  nextDueMs: number;
  names: string[];
}

export class AlertEvaluator {
  #entries = new Map<string, Entry>();

  /** Rules must have passed checkAlertRules; a rule whose condition does not parse is skipped. */
  constructor(rules: readonly AlertRuleConfig[] = []) {
    this.setRules(rules);
  }

  /**
   * Replaces the rule set. A rule kept with the same condition, interval and threshold keeps its
   * state (so a reload does not reset a firing alert); changed rules start over.
   */
  setRules(rules: readonly AlertRuleConfig[]): void {
    const next = new Map<string, Entry>();
    for (const rule of rules) {
      let expr: Expr;
      try {
        expr = parseCondition(rule.condition, METRIC_NAMES);
      } catch {
        continue;
      }
      const old = this.#entries.get(rule.ruleName);
      const same =
        old !== undefined &&
        old.rule.condition === rule.condition &&
        old.rule.evaluationIntervalSec === rule.evaluationIntervalSec &&
        old.rule.consecutiveThreshold === rule.consecutiveThreshold &&
        old.rule.enabled === rule.enabled;
      if (same && old) {
        old.rule = rule;
        old.state.severity = rule.severity;
        next.set(rule.ruleName, old);
        continue;
      }
      next.set(rule.ruleName, {
        rule,
        expr,
        nextDueMs: 0,
        names: [...metricsOf(expr)],
        state: {
          ruleName: rule.ruleName,
          condition: rule.condition,
          severity: rule.severity,
          enabled: rule.enabled,
          evaluationIntervalSec: rule.evaluationIntervalSec,
          consecutiveThreshold: rule.consecutiveThreshold,
          firing: false,
          consecutive: 0,
          consecutiveClear: 0,
          lastEvaluatedMs: 0,
          lastResult: null,
          firingSinceMs: 0,
        },
      });
    }
    this.#entries = next;
  }

  /** Evaluates every enabled rule that is due at nowMs; returns the firing/resolved transitions. */
  tick(nowMs: number, values: Readonly<Record<string, number>>): AlertTransition[] {
    const out: AlertTransition[] = [];
    for (const e of this.#entries.values()) {
      if (!e.rule.enabled || nowMs < e.nextDueMs) continue;
      e.nextDueMs = nowMs + e.rule.evaluationIntervalSec * 1000;
      const st = e.state;
      st.lastEvaluatedMs = nowMs;
      let result: boolean;
      try {
        result = Boolean(evaluate(e.expr, values));
        delete st.lastError;
      } catch (err) {
        st.lastError = err instanceof Error ? err.message : String(err);
        continue;
      }
      st.lastResult = result;
      const picked: Record<string, number> = {};
      for (const n of e.names) if (typeof values[n] === 'number') picked[n] = values[n]!;
      if (result) {
        st.consecutive++;
        st.consecutiveClear = 0;
        if (!st.firing && st.consecutive >= e.rule.consecutiveThreshold) {
          st.firing = true;
          st.firingSinceMs = nowMs;
          out.push({ ruleName: st.ruleName, severity: st.severity, condition: st.condition, kind: 'firing', atMs: nowMs, values: picked });
        }
      } else {
        st.consecutive = 0;
        if (st.firing && ++st.consecutiveClear >= e.rule.consecutiveThreshold) {
          st.consecutiveClear = 0;
          st.firing = false;
          st.firingSinceMs = 0;
          out.push({ ruleName: st.ruleName, severity: st.severity, condition: st.condition, kind: 'resolved', atMs: nowMs, values: picked });
        }
      }
    }
    return out;
  }

  states(): AlertRuleState[] {
    return [...this.#entries.values()].map((e) => ({ ...e.state }));
  }

  firing(): AlertRuleState[] {
    return this.states().filter((s) => s.firing);
  }
}

/**
 * Checker of one alert condition in the shape the config loader takes (`checkCondition` option of
 * parseConfig / loadConfigFile): the message and the 0-based offset inside the condition, so the
 * issue is reported at its line and column in the YAML file.
 */
export function checkConditionForConfig(condition: string): { message: string; offset?: number } | undefined {
  try {
    parseCondition(condition, METRIC_NAMES);
    return undefined;
  } catch (e) {
    if (!isXdbmError(e)) throw e;
    const pos = e.details?.['position'];
    return { message: `condition: ${e.message}`, offset: typeof pos === 'number' ? pos : undefined };
  }
}
