import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configToYaml } from '../../src/config/serialize.js';
import { BASE, edit, withSection } from './helpers.js';

describe('flap window and per-endpoint I/O timeout', () => {
  it('reads failover.flap_window_ms and defaults it', () => {
    expect(parseConfig(BASE).failover.flapWindowMs).toBe(600000);
    const cfg = parseConfig(withSection('  failover:\n    flap_window_ms: 120000\n'));
    expect(cfg.failover.flapWindowMs).toBe(120000);
  });

  it('reads endpoint io_timeout_ms, leaves it unset by default, and round trips it', () => {
    expect(parseConfig(BASE).candidateNodes[0]!.endpoints[0]!.ioTimeoutMs).toBeUndefined();
    const text = edit('connection_string: file:///srv/e1', 'connection_string: file:///srv/e1\n          io_timeout_ms: 750');
    const cfg = parseConfig(text);
    expect(cfg.candidateNodes[0]!.endpoints[0]!.ioTimeoutMs).toBe(750);
    expect(parseConfig(configToYaml(cfg)).candidateNodes[0]!.endpoints[0]!.ioTimeoutMs).toBe(750);
  });

  it('rejects a non-positive io_timeout_ms with its position', () => {
    const text = edit('connection_string: file:///srv/e1', 'connection_string: file:///srv/e1\n          io_timeout_ms: 0');
    expect(() => parseConfig(text)).toThrow(/io_timeout_ms/);
  });
});
