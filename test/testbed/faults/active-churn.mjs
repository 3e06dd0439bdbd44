// Not a storage fault: the active set churns under load. 12 forced switches, one every ~0.7 s, each
// replacing a random active by a healthy candidate on a node that holds no other active, while the
// writers append; then every acknowledged entry must still read back (old entries live only on the
// ensembles that held them: no migration in the WAL scenario).
import { main } from '../lib/harness.mjs';

async function churn(manager, { sleep, log }) {
  const done = [];
  for (let k = 0; k < 12; k++) {
    const actives = manager.getActiveBackends();
    const out = actives[Math.floor(Math.random() * actives.length)];
    const used = new Set(actives.filter((a) => a.endpointId !== out.endpointId).map((a) => a.nodeId));
    const cands = manager.getCandidates().filter((c) => !c.active && c.state === 'HEALTHY' && !used.has(c.nodeId));
    if (!out || cands.length === 0) { await sleep(700); continue; }
    const inn = cands[Math.floor(Math.random() * cands.length)];
    try {
      const r = await manager.forceBackendSwitch(out.endpointId, inn.endpointId);
      done.push({ out: out.endpointId, in: inn.endpointId, ok: r.ok, durationMs: r.durationMs });
    } catch (e) {
      done.push({ out: out.endpointId, in: inn.endpointId, error: e?.code ?? String(e) });
    }
    await sleep(700);
  }
  log(`churn: ${done.filter((d) => d.ok).length}/${done.length} switches ok`);
  return { switches: done };
}

await main({ name: 'active-churn', fault: 'none', types: ['nvmeof', 'nfs', 'local'], expect: 'survive', detectTimeoutMs: 1000, recoverTimeoutMs: 1000, chaos: churn });
