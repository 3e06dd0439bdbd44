/**
 * Where the daemon gets configuration: CONFIG's loader (src/config/load.ts) plus the alert-rule check
 * of this package, so a config is accepted only when it is valid whole, alert conditions included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkAlertRules, checkConditionForConfig } from '../alerts/evaluator.js';
import type { ManagerConfig, NodeConfig } from '../config/types.js';
import { ErrorCode, XdbmError, isXdbmError } from '../errors.js';
import * as loader from '../config/load.js';

/** Issue shape of XDBM_CONFIG_INVALID details.issues (same as src/config/issues.ts ConfigIssue). */
export interface IssueLike {
  path: string;
  message: string;
  line?: number;
  column?: number;
  code?: string;
}

/** The package root (where package.json and config/default.yaml live), from dist/src/daemon or src/daemon. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if ((JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'xdevice-backend-manager') return dir;
      } catch {
        /* keep walking */
      }
    }
    dir = path.dirname(dir);
  }
  return process.cwd();
}

export function defaultConfigPath(): string {
  return path.join(packageRoot(), 'config', 'default.yaml');
}

/** Adds alert-rule issues (with the position inside the condition) to a parsed config. */
export function checkWhole(cfg: ManagerConfig, sourceName: string): ManagerConfig {
  const issues = checkAlertRules(cfg.alerts ?? []);
  if (issues.length === 0) return cfg;
  // Rules are merged with the seed defaults by name, so they are named by rule rather than by index.
  const list: IssueLike[] = issues.map((i) => ({
    path: `dynamic_backend_manager.alert_rules[rule_name=${i.ruleName}]${i.position !== undefined ? '.condition' : ''}`,
    message: i.message,
    code: i.position !== undefined ? ErrorCode.EXPRESSION_INVALID : ErrorCode.CONFIG_INVALID,
  }));
  throw new XdbmError(ErrorCode.CONFIG_INVALID, `${sourceName}: ${list.length} configuration error(s) in alert rules; first: ${list[0]!.path}: ${list[0]!.message}`, {
    details: { issues: list, sourceName },
  });
}

export async function loadWhole(file: string): Promise<ManagerConfig> {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) {
    throw new XdbmError(ErrorCode.CONFIG_NOT_FOUND, `config file not found: ${abs} (give an existing file, e.g. config/default.yaml)`, {
      details: { path: abs },
    });
  }
  const cfg = await loader.loadConfigFile(abs, { checkCondition: checkConditionForConfig });
  return checkWhole(cfg, abs);
}

export async function parseWhole(text: string, sourceName: string): Promise<ManagerConfig> {
  return checkWhole(await loader.parseConfigAsync(text, sourceName, { checkCondition: checkConditionForConfig }), sourceName);
}

/**
 * A node for `nodes add`. Relative file: paths resolve against `baseDir`, the running config file's
 * directory, as they do inside that file: never against the daemon's working directory (/ under systemd).
 */
export function parseNode(text: string, sourceName: string, baseDir?: string): Promise<NodeConfig> {
  return loader.parseNodeYamlAsync(text, sourceName, { baseDir });
}

/** Issues of a CONFIG_INVALID error, or one issue made of any other error. */
export function issuesOf(e: unknown): IssueLike[] {
  if (isXdbmError(e) && Array.isArray(e.details?.issues)) return e.details.issues as IssueLike[];
  const msg = e instanceof Error ? e.message : String(e);
  return [{ path: '', message: msg, code: isXdbmError(e) ? e.code : undefined }];
}
