/**
 * `xdbm validate <file> [--json]`: checks a configuration file offline (no daemon needed).
 * Exit 0 with a one-line summary when valid; exit 2 with every issue as `file:line:col path: message`
 * when not, or when the file is missing.
 */
import type { Command } from 'commander';
import { isXdbmError } from '../../errors.js';
import { loadConfigFile } from '../../config/load.js';
import { formatIssueLines, issuesOf } from '../../config/issues.js';
import { distinctDomains } from '../../config/domains.js';
import type { ManagerConfig } from '../../config/types.js';

export const EXIT_VALID = 0;
export const EXIT_INVALID = 2;

export interface ValidateOptions {
  json?: boolean;
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
    const cfg = await loadConfigFile(file);
    const s = summaryOf(cfg);
    const stdout = opts.json
      ? JSON.stringify({ ok: true, file, summary: s }, null, 2) + '\n'
      : `ok: ${s.nodes} nodes, ${s.endpoints} endpoints, target ${s.target}, policy ${s.policy}\n`;
    return { exitCode: EXIT_VALID, stdout, stderr: '' };
  } catch (e) {
    if (!isXdbmError(e)) throw e;
    const issues = issuesOf(e);
    if (opts.json) {
      return { exitCode: EXIT_INVALID, stdout: JSON.stringify({ ok: false, file, code: e.code, message: e.message, issues }, null, 2) + '\n', stderr: '' };
    }
    if (issues.length === 0) {
      return { exitCode: EXIT_INVALID, stdout: '', stderr: `xdbm validate: ${e.message} [${e.code}]\n` };
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
    .action(async (file: string, opts: ValidateOptions) => {
      const out = await runValidate(file, opts);
      if (out.stdout) process.stdout.write(out.stdout);
      if (out.stderr) process.stderr.write(out.stderr);
      process.exitCode = out.exitCode;
    });
}
