/** Real-directory fixtures for integration tests: temp roots, endpoint configs, cleanup. */
import type { EndpointConfig } from '../../src/config/types.js';
import { tempDir } from '../support/temp-dir.js';

/** A fresh temp dir xdbm-<prefix>-XXXXXX with its cleanup. */
export function tempRoot(prefix: string): { dir: string; cleanup: () => void } {
  return tempDir(`xdbm-${prefix}-`);
}

export function localEndpoint(id: string, path: string, over: Partial<EndpointConfig> = {}): EndpointConfig {
  return {
    endpointId: id,
    type: 'local',
    connectionString: `file://${path}`,
    target: { kind: 'file', path },
    weight: 1,
    labels: {},
    probeAreaBytes: 4 * 1024 * 1024,
    ...over,
  };
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
