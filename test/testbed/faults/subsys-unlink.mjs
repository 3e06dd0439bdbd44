// The data subsystem is unlinked from its port while the port keeps serving another subsystem:
// controller goes to connecting, I/O fails at fast_io_fail_tmo / ctrl_loss_tmo.
import { main } from '../lib/harness.mjs';
await main({ name: 'subsys-unlink', fault: 'subsys-unlink', types: ['nvmeof'], expect: 'failover' });
