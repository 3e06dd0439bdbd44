// ip link set hI down: node I is cut off (its NVMe/TCP and NFS both). After link up NFS resumes;
// the NVMe controller may have been deleted (ctrl_loss_tmo) and must be reconnected by the manager.
import { main } from '../lib/harness.mjs';
await main({ name: 'node-down', fault: 'node-down', types: ['nvmeof', 'nfs'], expect: 'failover', recoverTimeoutMs: 60_000 });
