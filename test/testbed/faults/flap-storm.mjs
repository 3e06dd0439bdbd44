// Not a storage fault: probe deadlines far too short for an emulated guest (1 s rounds, 1.5 s
// deadline, 30 endpoints), so every endpoint flaps HEALTHY/DEGRADED/FAILED and the active set churns
// for 30 s. Seen on this testbed: acknowledged entries became XDBM_ENTRY_NOT_FOUND after such churn.
// Pass = every acknowledged entry still reads back.
import { main } from '../lib/harness.mjs';
await main({
  name: 'flap-storm', fault: 'none', types: ['nvmeof', 'nfs', 'local'], expect: 'survive',
  warmMs: 30_000, detectTimeoutMs: 3000, recoverTimeoutMs: 1000,
  tune: (c) => { c.healthCheckIntervalMs = 1000; c.monitoring.probeTimeoutMs = 1500; },
});
