#!/usr/bin/env node
// Collects the testbed's JSON results (steps/, faults/, smoke) into results.json and a markdown
// table (results.md) in the given directory. Exit 1 if any fault test or step failed.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? '/xdbm-results';
const readDir = (d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')).sort() : [])
  .map((f) => { try { return JSON.parse(readFileSync(path.join(d, f), 'utf8')); } catch { return { file: f, unreadable: true }; } });

const steps = readDir(path.join(dir, 'steps')).sort((a, b) => (a.startedAtMs ?? 0) - (b.startedAtMs ?? 0));
const ORDER = ['wal-baseline', 'ns-disable', 'subsys-unlink', 'listener-close', 'node-down', 'fail-slow', 'packet-loss', 'nfsd-stop', 'target-restore', 'active-churn', 'flap-storm'];
const rank = (n) => (ORDER.indexOf(n) < 0 ? 99 : ORDER.indexOf(n));
const faults = readDir(path.join(dir, 'faults')).sort((a, b) => rank(a.name) - rank(b.name));
const cluster = existsSync(path.join(dir, 'cluster-smoke.json')) ? JSON.parse(readFileSync(path.join(dir, 'cluster-smoke.json'), 'utf8')) : null;
const s = (v) => (v === null || v === undefined ? '–' : String(v));
const ms = (v) => (v === null || v === undefined ? '–' : `${(v / 1000).toFixed(2)} s`);

const lines = [];
lines.push('# Real-protocol testbed results', '');
lines.push(`Generated ${new Date().toISOString()} inside the QEMU guest (TCG, Debian 6.1 kernel).`, '');
if (cluster) {
  lines.push(`Cluster: ${cluster.nodes} nodes up in ${ms(cluster.cluster_up_ms)}; ${cluster.nodes} NVMe/TCP controllers connected (nvme-cli) in ${ms(cluster.nvme_connect_all_ms)}.`, '');
}
lines.push('## Steps', '', '| step | result | time |', '|---|---|---|');
for (const st of steps) lines.push(`| ${st.step} | ${st.rc === 0 ? 'pass' : `FAIL (rc ${st.rc})`} | ${ms(st.ms)} |`);
lines.push('', '## Faults', '');
lines.push('| fault | victim | detected (first state change) | FAILED at | replaced after | replacement | failover record | write stall | acked | lost | recovered after restore | result |');
lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const f of faults) {
  const d = f.detection ?? {};
  const fo = f.failover ?? {};
  const i = f.integrity ?? {};
  const r = f.recovery ?? {};
  const result = f.pass ? 'pass' : `FAIL${f.why ? `: ${f.why}` : ''}${f.error ? `: ${f.error.message}` : ''}`;
  lines.push(`| ${f.name} (${f.fault}${f.arg !== null && f.arg !== undefined ? ` ${f.arg}` : ''}) | ${s(f.victim)}@${s(f.victimNode)} | ${ms(d.firstStateChangeMs)} ${d.firstStateTo ? `→ ${d.firstStateTo}` : ''} | ${ms(d.failedMs)} | ${ms(fo.replacedAfterMs)} | ${s(fo.replacement)} | ${ms(fo.recordDurationMs)} | ${ms(fo.writeStallMs)} | ${s(i.acked)} | ${s(i.lost === undefined ? undefined : i.lost + (i.mismatched ?? 0))} | ${r.recovered ? ms(r.recoveryMs) : s(r.stateAtEnd)} | ${result.replace(/\|/g, '/')} |`);
}
lines.push('', 'Times are from the moment the fault was injected. "write stall" is the longest gap between two acknowledged appends from the fault to 3 s after the failover. "lost" counts acknowledged entries that did not read back identical.', '');

const failedSteps = steps.filter((x) => x.rc !== 0).map((x) => x.step);
const failedFaults = faults.filter((x) => !x.pass).map((x) => x.name);
const summary = { generatedAt: new Date().toISOString(), cluster, steps, faults, failedSteps, failedFaults, pass: failedSteps.length === 0 && failedFaults.length === 0 };
writeFileSync(path.join(dir, 'results.json'), JSON.stringify(summary, null, 2));
writeFileSync(path.join(dir, 'results.md'), lines.join('\n'));
console.log(lines.join('\n'));
process.exit(summary.pass ? 0 : 1);
