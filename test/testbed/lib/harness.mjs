// Fault-test harness, run INSIDE the testbed guest against the real cluster that guest/tb.sh built.
// One fault per process: open the manager on the generated config, start, wait for 3 actives on 3
// nodes, open the replicated log, run concurrent writers, make sure the victim is active, inject the
// fault (tb.sh fault ...), measure detection and failover, restore, measure recovery, then read back
// every acknowledged index. Writes one JSON result.
import { execFile as execFileCb } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { loadConfig, openLog, openManager } from './project.mjs';

const execFile = promisify(execFileCb);
const here = path.dirname(fileURLToPath(import.meta.url));
export const TB = path.resolve(here, '..', 'guest', 'tb.sh');
const RESULTS = process.env.XDBM_TB_RESULTS ?? '/xdbm-results';
const CONFIG = process.env.XDBM_TB_CONFIG ?? '/var/lib/xdbm-tb/xdbm.yaml';
const WRITERS = Number(process.env.XDBM_TB_WRITERS ?? 4);
const PAYLOAD_BYTES = Number(process.env.XDBM_TB_PAYLOAD_BYTES ?? 512);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nodeNum = (nodeId) => Number(String(nodeId).replace(/^\D+/, ''));

async function tb(...args) {
  const { stdout } = await execFile('bash', [TB, ...args.map(String)], { timeout: 60_000 });
  return stdout.trim();
}

async function waitFor(what, fn, timeoutMs, stepMs = 100) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return { ok: true, ms: Date.now() - t0, value: v };
    if (Date.now() - t0 > timeoutMs) return { ok: false, ms: Date.now() - t0, what };
    await sleep(stepMs);
  }
}

function log(...a) {
  console.error(`[fault ${(process.uptime()).toFixed(1)}s]`, ...a);
}

/** Concurrent appenders; every acknowledged (index -> payload) is kept for the read-back. */
class Writers {
  acked = new Map();
  errors = [];
  latenciesMs = [];
  ackTimes = [];
  #stop = false;
  #loops = [];
  constructor(logHandle, n) {
    this.log = logHandle;
    this.n = n;
  }
  start() {
    for (let w = 0; w < this.n; w++) this.#loops.push(this.#run(w));
  }
  async #run(w) {
    let seq = 0;
    while (!this.#stop) {
      const payload = Buffer.concat([Buffer.from(`w${w}:s${seq++}:`), randomBytes(PAYLOAD_BYTES)]).subarray(0, PAYLOAD_BYTES);
      const t0 = performance.now();
      try {
        const { index } = await this.log.append(payload);
        const now = Date.now();
        if (this.acked.has(index)) this.errors.push({ atMs: now, code: 'DUPLICATE_INDEX', message: `index ${index} acked twice` });
        this.acked.set(index, payload);
        this.latenciesMs.push(performance.now() - t0);
        this.ackTimes.push(now);
      } catch (e) {
        this.errors.push({ atMs: Date.now(), code: e?.code ?? 'ERROR', message: String(e?.message ?? e).slice(0, 200) });
        await sleep(50);
      }
      await sleep(2);
    }
  }
  async stop() {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
  /** Longest gap between two acknowledgements inside [fromMs, toMs]. */
  maxGapMs(fromMs, toMs) {
    const ts = this.ackTimes.filter((t) => t >= fromMs && t <= toMs).sort((a, b) => a - b);
    let gap = 0;
    let prev = fromMs;
    for (const t of ts) { gap = Math.max(gap, t - prev); prev = t; }
    gap = Math.max(gap, toMs - prev);
    return gap;
  }
}

function pct(arr, p) {
  if (arr.length === 0) return null;
  const s = [...arr].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
}

/**
 * Makes an endpoint of one of `types` active (if none is) by a forced switch, keeping one active per
 * node. Returns the victim endpoint id.
 */
async function ensureVictim(manager, types, preferNode) {
  const actives = manager.getActiveBackends();
  const hit = actives.find((a) => types.includes(a.type) && (preferNode === undefined || nodeNum(a.nodeId) === preferNode));
  if (hit) return hit.endpointId;
  const activeNodes = new Set(actives.map((a) => a.nodeId));
  const cands = manager.getCandidates()
    .filter((c) => types.includes(c.type) && !c.active && c.state === 'HEALTHY')
    .sort((a, b) => b.score - a.score);
  // Replace the lowest-ranked active with a candidate on a node that holds no other active.
  const out = actives[actives.length - 1];
  const pick = cands.find((c) => !activeNodes.has(c.nodeId) || c.nodeId === out.nodeId);
  if (!pick) throw new Error(`no healthy ${types.join('/')} candidate to make active`);
  log(`forcing ${out.endpointId} -> ${pick.endpointId} so a ${pick.type} backend is active`);
  await manager.forceBackendSwitch(out.endpointId, pick.endpointId);
  return pick.endpointId;
}

/**
 * spec: { name, fault, arg?, types: ['nvmeof'], expect: 'failover' | 'failover-or-degraded' | 'survive',
 *         tune?: (config) => void (edits the loaded ManagerConfig), requireRecovery?,
 *         holdMs?: how long the fault stays if no failover comes, detectTimeoutMs?, recoverTimeoutMs? }
 */
export async function runFault(spec) {
  mkdirSync(path.join(RESULTS, 'faults'), { recursive: true });
  mkdirSync('/var/lib/xdbm-tb/meta', { recursive: true });
  const out = path.join(RESULTS, 'faults', `${spec.name}.json`);
  const result = { name: spec.name, fault: spec.fault, arg: spec.arg ?? null, expect: spec.expect, pass: false, startedAt: new Date().toISOString() };
  const events = [];
  let manager;
  let writers;
  let walLog;
  let faultNode;
  let injected = false;
  const t = { start: Date.now() };
  const rel = (ms) => (ms === undefined || ms === null ? null : ms - t.fault);
  try {
    const config = await loadConfig(CONFIG);
    if (spec.tune) spec.tune(config);
    manager = await openManager(config);
    manager.on('state-changed', (e) => events.push({ atMs: Date.now(), kind: 'state', ...e }));
    manager.on('active-changed', (e) => events.push({ atMs: Date.now(), kind: 'active', ...e }));
    manager.on('failover', (e) => events.push({ atMs: Date.now(), kind: 'failover', ...e }));
    await manager.start();
    const ready = await waitFor('3 healthy actives', () => {
      const a = manager.getActiveBackends();
      return a.length >= 3 && a.every((x) => x.state === 'HEALTHY') ? a : null;
    }, 90_000, 200);
    result.startupMs = Date.now() - t.start;
    if (!ready.ok) throw new Error(`manager did not reach 3 healthy actives in 90 s: ${JSON.stringify(manager.getActiveBackends())}`);
    result.initialActives = manager.getActiveBackends().map((a) => `${a.endpointId}@${a.nodeId}`);
    const nodes = new Set(manager.getActiveBackends().map((a) => a.nodeId));
    result.activesOnDistinctNodes = nodes.size === manager.getActiveBackends().length;

    const victim = await ensureVictim(manager, spec.types, spec.node);
    // Start from a settled set: the victim and its peers HEALTHY for a moment.
    const settled = await waitFor('settled actives', () => {
      const a = manager.getActiveBackends();
      return a.length >= 3 && a.some((x) => x.endpointId === victim) && a.every((x) => x.state === 'HEALTHY');
    }, 30_000, 200);
    result.settledBeforeFault = settled.ok;
    const vStatus = manager.getCandidates().find((c) => c.endpointId === victim);
    faultNode = nodeNum(vStatus.nodeId);
    result.victim = victim;
    result.victimType = vStatus.type;
    result.victimNode = vStatus.nodeId;
    result.activesBeforeFault = manager.getActiveBackends().map((a) => `${a.endpointId}@${a.nodeId}`);

    // One log for the whole suite, reopened by every fault (a device holds the copies of one log, and
    // every reopen is a recovery after the previous fault's writer closed it).
    walLog = await openLog(manager, 'testbed-wal');
    writers = new Writers(walLog, WRITERS);
    writers.start();
    await sleep(spec.warmMs ?? 3000);
    result.ackedBeforeFault = writers.acked.size;

    // --- inject ---
    // Time zero is the moment just before tb.sh starts changing the target (under TCG the script
    // itself takes a few hundred ms, and the fault is live somewhere inside that window).
    t.fault = Date.now();
    if (spec.fault !== 'none') {
      await tb('fault', spec.fault, faultNode, ...(spec.arg !== undefined ? [spec.arg] : []));
      injected = true;
    }
    t.beforeFault = t.fault;
    // A scripted disturbance through the manager's own API instead of (or besides) tb.sh.
    if (spec.chaos) result.chaos = await spec.chaos(manager, { sleep, log });
    result.injectMs = Date.now() - t.fault;
    log(`fault ${spec.fault} on node ${faultNode} (victim ${victim})`);

    const victimEvents = () => events.filter((e) => e.atMs >= t.beforeFault && (e.endpointId === victim || e.failedId === victim));
    const gone = await waitFor('victim replaced', () => !manager.getActiveBackends().some((a) => a.endpointId === victim), spec.detectTimeoutMs ?? 45_000, 50);
    t.replaced = gone.ok ? Date.now() : undefined;
    if (!gone.ok && spec.holdMs) await sleep(Math.max(0, spec.holdMs - (Date.now() - t.fault)));
    // keep writing on the new set for a while
    await sleep(3000);
    t.endOfFaultWindow = Date.now();

    const firstState = victimEvents().find((e) => e.kind === 'state' && e.to !== 'HEALTHY');
    const failedState = victimEvents().find((e) => e.kind === 'state' && e.to === 'FAILED');
    const degradedState = victimEvents().find((e) => e.kind === 'state' && e.to === 'DEGRADED');
    const fo = victimEvents().find((e) => e.kind === 'failover');
    // The set change that dropped the victim (a failover record, or a reselection such as fail-slow).
    const drop = events.find((e) => e.kind === 'active' && e.atMs >= t.fault && e.previous?.includes(victim) && !e.current?.includes(victim));
    const added = drop ? drop.current.filter((x) => !drop.previous.includes(x)) : [];
    const st = manager.getBackendStatus(victim);
    result.detection = {
      firstStateChangeMs: rel(firstState?.atMs),
      firstStateTo: firstState?.to ?? null,
      firstStateReason: firstState?.reason ?? null,
      failedMs: rel(failedState?.atMs),
      degradedMs: rel(degradedState?.atMs),
      failSlowFlag: st.failSlow ?? null,
      stateAtEnd: st.state,
      lastError: st.lastError ?? null,
    };
    result.failover = {
      replaced: gone.ok,
      replacedAfterMs: gone.ok ? t.replaced - t.fault : null,
      replacement: fo?.replacementId ?? added[0] ?? null,
      droppedBy: drop?.reason ?? null,
      recordDurationMs: fo?.durationMs ?? null,
      reason: fo?.reason ?? null,
      ok: fo?.ok ?? null,
      activesAfter: manager.getActiveBackends().map((a) => `${a.endpointId}@${a.nodeId}`),
      activesOnDistinctNodes: new Set(manager.getActiveBackends().map((a) => a.nodeId)).size === manager.getActiveBackends().length,
      writeStallMs: writers.maxGapMs(t.fault, t.endOfFaultWindow),
      appendErrorsDuringFault: writers.errors.filter((e) => e.atMs >= t.fault).length,
    };

    // --- restore ---
    if (spec.fault !== 'none') await tb('restore', spec.fault, faultNode);
    injected = false;
    t.restore = Date.now();
    log(`restored ${spec.fault} on node ${faultNode}`);
    const rec = await waitFor('victim HEALTHY again', () => manager.getBackendStatus(victim).state === 'HEALTHY', spec.recoverTimeoutMs ?? 45_000, 200);
    result.recovery = {
      recovered: rec.ok,
      recoveryMs: rec.ok ? rec.ms : null,
      stateAtEnd: manager.getBackendStatus(victim).state,
      events: events.filter((e) => e.atMs >= t.restore && (e.endpointId === victim)).map((e) => ({ ms: e.atMs - t.restore, to: e.to, reason: e.reason })),
    };

    await writers.stop();
    // --- read back every acknowledged entry ---
    const tRead = Date.now();
    let lost = 0;
    let mismatched = 0;
    const firstBad = [];
    for (const [index, payload] of writers.acked) {
      try {
        const got = await walLog.read(index);
        if (!Buffer.from(got).equals(payload)) { mismatched++; if (firstBad.length < 5) firstBad.push({ index, problem: 'mismatch' }); }
      } catch (e) {
        lost++;
        if (firstBad.length < 5) firstBad.push({ index, problem: e?.code ?? String(e) });
      }
    }
    // Compaction, as the Raft layer above does after a snapshot: the next fault's writer reopens a log
    // that starts here (its recovery scans what is left, not the whole suite's history).
    await walLog.truncatePrefix?.(walLog.lastIndex()).catch((e) => log(`truncatePrefix after read-back: ${e?.code ?? e}`));
    try {
      const ws = walLog.stats?.();
      if (ws) result.walStats = { appended: ws.appended, acked: ws.acked, checksumFailures: ws.checksumFailures, readFallbacks: ws.readFallbacks,
        ensembleChanges: ws.ensembleChanges.map((c) => ({ ...c, afterFaultMs: t.fault ? c.atMs - t.fault : null })) };
    } catch { /* optional */ }
    result.integrity = {
      acked: writers.acked.size,
      lost,
      mismatched,
      firstBad,
      readBackMs: Date.now() - tRead,
      appendErrors: writers.errors.length,
      appendErrorCodes: [...new Set(writers.errors.map((e) => e.code))],
      appendLatencyP50Ms: pct(writers.latenciesMs, 50),
      appendLatencyP99Ms: pct(writers.latenciesMs, 99),
    };
    const dataOk = lost === 0 && mismatched === 0 && writers.acked.size > 0 && !writers.errors.some((e) => e.code === 'DUPLICATE_INDEX');
    const movedOk = spec.expect === 'failover' ? gone.ok
      : spec.expect === 'failover-or-degraded' ? (gone.ok || degradedState !== undefined || st.failSlow === true)
      : true;
    const recoveredOk = spec.requireRecovery ? rec.ok : true;
    result.pass = dataOk && movedOk && recoveredOk && result.failover.activesOnDistinctNodes;
    if (!dataOk) result.why = 'acknowledged WAL entries lost or corrupted';
    else if (!recoveredOk) result.why = `victim not HEALTHY again ${spec.recoverTimeoutMs ?? 45_000} ms after the restore`;
    else if (!movedOk) result.why = `expected ${spec.expect}, victim still active ${spec.detectTimeoutMs ?? 45_000} ms after the fault`;
  } catch (e) {
    result.pass = false;
    result.error = { code: e?.code ?? 'ERROR', message: String(e?.message ?? e), stack: String(e?.stack ?? '').split('\n').slice(0, 6).join('\n') };
    log('ERROR', e);
  } finally {
    if (injected && faultNode !== undefined) await tb('restore', spec.fault, faultNode).catch(() => undefined);
    if (writers) await writers.stop().catch(() => undefined);
    await walLog?.close?.().catch(() => undefined);
    await manager?.stop?.().catch(() => undefined);
    result.events = events.map((e) => ({ ...e, ms: t.fault ? e.atMs - t.fault : null }));
    result.totalMs = Date.now() - t.start;
    writeFileSync(out, JSON.stringify(result, null, 2));
    log(`${spec.name}: ${result.pass ? 'PASS' : 'FAIL'}${result.why ? ` (${result.why})` : ''}${result.error ? ` (${result.error.message})` : ''} -> ${out}`);
  }
  return result;
}

/** Entry point for each faults/*.mjs file. */
export async function main(spec) {
  const r = await runFault(spec);
  // Manager/pool handles may keep the loop alive: exit explicitly.
  process.exit(r.pass ? 0 : 1);
}
