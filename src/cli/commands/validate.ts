/**
 * `xdbm validate <file> [--json] [--node]`: checks a configuration file (or, with --node, a node file
 * for `xdbm nodes add`) offline, no daemon needed.
 * Exit 0 with a one-line summary when valid; exit 2 with every issue as `file:line:col path: message`
 * when not, or when the file is missing.
 */
import type { Command } from 'commander';
import { ErrorCode, isXdbmError } from '../../errors.js';
import { loadConfigFile, loadNodeFile } from '../../config/load.js';
import { formatIssueLines, issuesOf } from '../../config/issues.js';
import { distinctDomains } from '../../config/domains.js';
import type { ManagerConfig } from '../../config/types.js';
import { checkConditionForConfig } from '../../alerts/evaluator.js';

export const EXIT_VALID = 0;
export const EXIT_INVALID = 2;
export const EXIT_FAILURE = 1;

export interface ValidateOptions {
  json?: boolean;
  /** The file holds one candidate node (the format of `xdbm nodes add`), not a whole configuration. */
  node?: boolean;
}

export interface ValidateOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function summaryOf(cfg: ManagerConfig): { nodes: number; endpoints: number; target: number; policy: string; failureDomain: string; domains: number } {
  return {
    nodes: cfg.candidateNodes.length,
    endpoints: cfg.candidateNodes.reduce((n, node) => n + node.endpoints.length, 0),
    target: cfg.targetActiveBackends,
    policy: cfg.selection.algorithm,
    failureDomain: cfg.selection.failureDomain,
    domains: distinctDomains(cfg.selection, cfg.candidateNodes).size,
  };
}

/** Validates `file`; returns what the command prints and its exit code (the CLI action writes them). */
export async function runValidate(file: string, opts: ValidateOptions = {}): Promise<ValidateOutcome> {
  try {
    if (opts.node) {
      const node = await loadNodeFile(file);
      const s = { nodeId: node.nodeId, endpoints: node.endpoints.map((e) => e.endpointId) };
      const stdout = opts.json
        ? JSON.stringify({ ok: true, file, node: s }, null, 2) + '\n'
        : `ok: node ${s.nodeId}, ${s.endpoints.length} endpoint${s.endpoints.length === 1 ? '' : 's'} (${s.endpoints.join(', ')})\n`;
      return { exitCode: EXIT_VALID, stdout, stderr: '' };
    }
    const cfg = await loadConfigFile(file, { checkCondition: checkConditionForConfig });
    const s = summaryOf(cfg);
    const stdout = opts.json
      ? JSON.stringify({ ok: true, file, summary: s }, null, 2) + '\n'
      : `ok: ${s.nodes} nodes, ${s.endpoints} endpoints, target ${s.target}, policy ${s.policy}\n`;
    return { exitCode: EXIT_VALID, stdout, stderr: '' };
  } catch (e) {
    if (!isXdbmError(e)) throw e;
    const issues = issuesOf(e);
    // a file that is wrong or missing is bad input (2); anything else (EACCES, EIO) is a failure (1)
    const exitCode = e.code === ErrorCode.CONFIG_INVALID || e.code === ErrorCode.CONFIG_NOT_FOUND ? EXIT_INVALID : EXIT_FAILURE;
    if (opts.json) {
      return { exitCode, stdout: JSON.stringify({ ok: false, file, code: e.code, message: e.message, issues }, null, 2) + '\n', stderr: '' };
    }
    if (issues.length === 0) {
      return { exitCode, stdout: '', stderr: `xdbm validate: ${e.message} [${e.code}]\n` };
    }
    const lines = formatIssueLines(issues, file);
    const n = issues.length;
    return {
      exitCode: EXIT_INVALID,
      stdout: lines.join('\n') + '\n',
      stderr: `xdbm validate: ${file}: ${n} error${n === 1 ? '' : 's'}\n`,
    };
  }
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a configuration file (YAML) and print every error with file:line:col')
    .argument('<file>', 'YAML configuration file')
    .option('--json', 'print the result as JSON')
    .option('--node', 'the file holds one candidate node (as for `xdbm nodes add`), not a whole configuration')
    .action(async (file: string, opts: ValidateOptions) => {
      const out = await runValidate(file, opts);
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
      process.exitCode = out.exitCode;
    });
}
