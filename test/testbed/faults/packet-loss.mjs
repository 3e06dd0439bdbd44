// tc netem loss 100 % on the node's link (a silent partition: no RST, just nothing).
import { main } from '../lib/harness.mjs';
await main({ name: 'packet-loss', fault: 'loss', arg: 100, types: ['nvmeof'], expect: 'failover', recoverTimeoutMs: 60_000 });
