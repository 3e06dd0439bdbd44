/** Real-directory fixtures for integration tests: temp roots, endpoint configs, cleanup. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EndpointConfig } from '../../src/config/types.js';

export function tempRoot(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `xdbm-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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
