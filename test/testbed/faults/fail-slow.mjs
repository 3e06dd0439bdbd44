// tc netem delay 50 ms on the node's link: every I/O ~100x slower than its peers (fail-slow).
import { main } from '../lib/harness.mjs';
await main({ name: 'fail-slow', fault: 'delay', arg: 50, types: ['nvmeof'], expect: 'failover-or-degraded', detectTimeoutMs: 30_000 });
