// nvmet namespace enable=0: /dev/nvmeXnY disappears within ~1 s, the controller stays live.
import { main } from '../lib/harness.mjs';
await main({ name: 'ns-disable', fault: 'ns-disable', types: ['nvmeof'], expect: 'failover' });
