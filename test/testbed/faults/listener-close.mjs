// Every subsystem unlinked from the port: the listener closes, reconnects are refused (-111).
import { main } from '../lib/harness.mjs';
await main({ name: 'listener-close', fault: 'listener-close', types: ['nvmeof'], expect: 'failover' });
