/**
 * vitest globalSetup: applies XDBM_TEST_PRETEND_MISSING to the code's own lookups, opens the run's skip
 * log (see requires.ts) and, at the end of the run, prints what was skipped for a missing system
 * package: one line per test file and package, then one summary line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasPackage, installCommand, pretendMissing, PRETEND_ENV, SKIP_LOG_ENV, SYSTEM_PACKAGES, type SystemPackage } from './requires.js';

/** Where the code under test looks for each package, pointed at nothing when it is pretended missing. */
const LOOKUP_ENV: Partial<Record<SystemPackage, string>> = {
  libnvme1: 'XDBM_LIBNVME_PATH',
  'etcd-server': 'XDBM_ETCD_BINARY',
  chromium: 'XDBM_CHROMIUM',
};

/** Suites that skip on their own check (not through requires()), named so the summary still counts them. */
const SELF_CHECKED: Partial<Record<SystemPackage, string>> = {
  'etcd-server': 'test/wal/{metadata-store,log-failures,truncate-concurrency}.test.ts (their real-etcd suites, when run)',
};

export default function setup(): () => void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xdbm-test-run-'));
  const log = path.join(dir, 'skips.jsonl');
  process.env[SKIP_LOG_ENV] = log;
  const pretend = pretendMissing();
  for (const pkg of pretend) {
    const env = LOOKUP_ENV[pkg];
    if (env) process.env[env] = `/nonexistent/${PRETEND_ENV}/${pkg}`;
  }

  return () => {
    let lines: string[] = [];
    try {
      lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    } catch {
      // no file: nothing was skipped for a missing package
    }
    rmSync(dir, { recursive: true, force: true });
    const byPkg = new Map<SystemPackage, Set<string>>();
    for (const l of lines) {
      const { file, pkg } = JSON.parse(l) as { file: string; pkg: SystemPackage };
      if (!byPkg.has(pkg)) byPkg.set(pkg, new Set());
      byPkg.get(pkg)!.add(file);
    }
    for (const [pkg, what] of Object.entries(SELF_CHECKED) as [SystemPackage, string][]) {
      if (!hasPackage(pkg)) (byPkg.get(pkg) ?? byPkg.set(pkg, new Set()).get(pkg)!).add(what);
    }
    const out: string[] = [];
    for (const [pkg, files] of [...byPkg].sort(([a], [b]) => a.localeCompare(b))) {
      for (const f of [...files].sort()) out.push(`skipped: ${f} needs ${pkg} (${SYSTEM_PACKAGES[pkg].provides}): ${installCommand(pkg)}`);
    }
    const pretendNote = pretend.size > 0 ? ` [${PRETEND_ENV}=${[...pretend].join(',')}]` : '';
    if (byPkg.size === 0) {
      out.push(`system packages: nothing skipped for a missing package${pretendNote}`);
    } else {
      const parts = [...byPkg].map(([pkg, files]) => `${pkg} (${files.size} file${files.size === 1 ? '' : 's'})`);
      const all = [...byPkg.keys()].join(' ');
      out.push(`system packages: skipped tests needing ${parts.join(', ')}: not installed${pretendNote}; apt-get install -y ${all} (or .ci/run) runs them`);
    }
    process.stdout.write('\n' + out.join('\n') + '\n');
  };
}
