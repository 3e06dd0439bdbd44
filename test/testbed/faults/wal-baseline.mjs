// No fault: 3 actives on 3 distinct nodes, concurrent appends for a while, every acked entry read back.
import { main } from '../lib/harness.mjs';
await main({ name: 'wal-baseline', fault: 'none', types: ['nvmeof', 'nfs', 'local'], expect: 'survive', detectTimeoutMs: 8000, recoverTimeoutMs: 5000 });
