/**
 * System packages some tests need (Debian names), found the way the code under test finds them.
 *
 *   const libnvme = requires('libnvme1');
 *   describe.skipIf(libnvme.missing)(`libnvme loading${libnvme.note}`, () => { ... });
 *
 * A missing package skips the suite or test with a title naming the package and the command that
 * installs it; the skip is also written to the run's skip log, which globalSetup's teardown prints
 * (one line per file and package, then one summary line) at the end of `npm test`.
 *
 * XDBM_TEST_REQUIRE_ALL_PACKAGES=1 (.ci/run) makes a missing package fail the test file instead.
 *
 * XDBM_TEST_PRETEND_MISSING=libnvme1,etcd-server,... (or `all`) pretends packages are absent, to check
 * what a fresh machine without them sees; globalSetup also points the code's own lookups
 * (XDBM_LIBNVME_PATH, XDBM_ETCD_BINARY, XDBM_CHROMIUM) at nothing, so a test that forgot to call
 * requires() fails instead of quietly using the installed package.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
import { expect } from 'vitest';

export type SystemPackage = 'libnvme1' | 'etcd-server' | 'chromium' | 'fio' | 'prometheus' | 'nvme-cli' | 'e2fsprogs';

interface PackageInfo {
  /** What the tests use from it, for the skip line. */
  provides: string;
  present: () => boolean;
}

function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // command -v exits 1: not on PATH
  }
}

export const SYSTEM_PACKAGES: Record<SystemPackage, PackageInfo> = {
  libnvme1: {
    provides: 'libnvme.so.1',
    present: () => {
      try {
        koffi.load(process.env.XDBM_LIBNVME_PATH || 'libnvme.so.1');
        return true;
      } catch {
        return false; // dlopen failed: the library (or the path the tests were given) is not there
      }
    },
  },
  'etcd-server': { provides: '/usr/bin/etcd', present: () => existsSync(process.env.XDBM_ETCD_BINARY ?? '/usr/bin/etcd') },
  chromium: { provides: '/usr/bin/chromium', present: () => existsSync(process.env.XDBM_CHROMIUM ?? '/usr/bin/chromium') },
  fio: { provides: 'fio', present: () => onPath('fio') },
  prometheus: { provides: 'promtool', present: () => onPath('promtool') },
  'nvme-cli': { provides: 'nvme', present: () => onPath('nvme') },
  // /sbin is not on every user's PATH: look there too
  e2fsprogs: { provides: 'mkfs.ext4', present: () => onPath('mkfs.ext4') || ['/sbin', '/usr/sbin'].some((d) => existsSync(`${d}/mkfs.ext4`)) },
};

export const PRETEND_ENV = 'XDBM_TEST_PRETEND_MISSING';
/** Set by .ci/run, which installs every package: a missing one is then an error, not a skip. */
export const REQUIRE_ALL_ENV = 'XDBM_TEST_REQUIRE_ALL_PACKAGES';
export const SKIP_LOG_ENV = 'XDBM_TEST_SKIP_LOG';

/** Packages named in XDBM_TEST_PRETEND_MISSING (`all` = every one in SYSTEM_PACKAGES). */
export function pretendMissing(): Set<SystemPackage> {
  const raw = (process.env[PRETEND_ENV] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const all = Object.keys(SYSTEM_PACKAGES) as SystemPackage[];
  if (raw.includes('all')) return new Set(all);
  for (const p of raw) if (!all.includes(p as SystemPackage)) throw new Error(`${PRETEND_ENV}: unknown package ${p} (known: ${all.join(', ')})`);
  return new Set(raw as SystemPackage[]);
}

export function installCommand(pkg: SystemPackage): string {
  return `apt-get install -y ${pkg}`;
}

/** True when the package is installed (and not pretended missing). */
export function hasPackage(pkg: SystemPackage): boolean {
  return !pretendMissing().has(pkg) && SYSTEM_PACKAGES[pkg].present();
}

export interface Requirement {
  /** True when a package is missing: pass to describe.skipIf / it.skipIf. */
  missing: boolean;
  /** ' (skipped: needs libnvme1: apt-get install -y libnvme1)' when missing, '' otherwise: append to the title. */
  note: string;
}

/** The test file being collected (vitest sets it before importing the file), relative to the repository. */
function currentTestFile(): string {
  const p = expect.getState().testPath;
  return p ? path.relative(process.cwd(), p) : '(outside a test file)';
}

/** Checks `pkgs`; when one is missing, records the skip for the end-of-run summary. */
export function requires(...pkgs: SystemPackage[]): Requirement {
  const absent = pkgs.filter((p) => !hasPackage(p));
  if (absent.length === 0) return { missing: false, note: '' };
  const why = absent.map((p) => `needs ${p} (${SYSTEM_PACKAGES[p].provides}): ${installCommand(p)}`).join('; ');
  if (process.env[REQUIRE_ALL_ENV] === '1') {
    throw new Error(`${REQUIRE_ALL_ENV}=1 but this test ${why} (not installed, or pretended missing)`);
  }
  const log = process.env[SKIP_LOG_ENV];
  if (log) {
    const file = currentTestFile();
    for (const p of absent) appendFileSync(log, JSON.stringify({ file, pkg: p }) + '\n');
  }
  return { missing: true, note: ` (skipped: ${why})` };
}
