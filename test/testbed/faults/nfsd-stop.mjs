// rpc.nfsd 0 on the node: the soft NFS mount returns EIO after ~3 s.
import { main } from '../lib/harness.mjs';
await main({ name: 'nfsd-stop', fault: 'nfsd-stop', types: ['nfs'], expect: 'failover' });
