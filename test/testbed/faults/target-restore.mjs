// Listener closed long enough for the controller to be lost, then restored: the manager must see the
// target come back (reconnect, probes pass) and mark it HEALTHY again within the recovery timeout.
import { main } from '../lib/harness.mjs';
await main({ name: 'target-restore', fault: 'listener-close', types: ['nvmeof'], expect: 'failover', requireRecovery: true, recoverTimeoutMs: 60_000 });
