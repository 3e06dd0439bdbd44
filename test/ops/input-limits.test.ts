/**
 * Input that must not freeze the daemon: a YAML alias bomb ("billion laughs") and oversized input are
 * refused with a position, fast, by `xdbm validate`, `xdbm reload`, SIGHUP and the admin `validate`
 * method, while the daemon keeps answering.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../src/client/client.js';
import { MAX_CONFIG_BYTES, readYaml } from '../../src/config/yaml-source.js';
import { cli, ensureBuilt, startDaemon, tempDir, until, writeCluster, type DaemonHandle } from './helpers/harness.js';

/** About 400 bytes that expand to 9^9 (387 million) scalars when aliases are followed naively. */
function aliasBomb(levels = 9): string {
  const names = 'abcdefghijklmnop';
  const lines = ['x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < levels; i++) lines.push(`x-${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(',')}]`);
  lines.push('dynamic_backend_manager:', `  target_active_backends: *${names[levels - 1]}`);
  return lines.join('\n') + '\n';
}

describe('YAML expansion bounds', () => {
  it('an alias bomb is refused at the alias in the document body, in well under a second', () => {
    const t0 = performance.now();
    const r = readYaml(aliasBomb());
    const ms = performance.now() - t0;
    expect(r.value).toBeUndefined();
    expect(r.syntaxIssues).toHaveLength(1);
    expect(r.syntaxIssues[0]).toMatchObject({ line: 11, column: 27 });
    expect(r.syntaxIssues[0]!.message).toMatch(/more than \d+ aliases/);
    expect(ms).toBeLessThan(500);
  });

  it('a merge-key bomb is refused the same way', () => {
    const lines = ['x-a: &a { k0: 1, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, k6: 1, k7: 1 }'];
    for (let i = 1; i < 9; i++) lines.push(`x-${i}: &l${i} [${Array(9).fill(i === 1 ? '*a' : `*l${i - 1}`).join(',')}]`);
    lines.push('dynamic_backend_manager:', '  failover:', '    <<: *l8');
    const r = readYaml(lines.join('\n'));
    expect(r.syntaxIssues[0]?.message).toMatch(/aliases|nodes/);
  });

  it('anchors under top-level x- keys are not expanded there, and a few aliases still work', () => {
    const r = readYaml('x-d: &d { weight: 0.5 }\nx-e: *d\nroot: { a: *d, b: *d }\n');
    expect(r.syntaxIssues).toEqual([]);
    expect(r.value).toEqual({ 'x-d': null, 'x-e': null, root: { a: { weight: 0.5 }, b: { weight: 0.5 } } });
  });

  it('input over the size bound is refused before parsing', () => {
    const r = readYaml(`# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`);
    expect(r.syntaxIssues[0]).toMatchObject({ line: 1, column: 1 });
    expect(r.syntaxIssues[0]!.message).toMatch(/more than the limit of 262144 bytes/);
  });
});

describe('an alias bomb sent to a running daemon', () => {
  let dir: string;
  let d: DaemonHandle;
  let bomb: string;
  const x = (...args: string[]) => cli([...args, '--socket', d.socket]);

  beforeAll(async () => {
    ensureBuilt();
    dir = tempDir();
    const cfg = writeCluster(dir, { nodes: 4 });
    bomb = path.join(dir, 'bomb.yaml');
    fs.writeFileSync(bomb, aliasBomb());
    d = await startDaemon(['--config', cfg, '--socket', path.join(dir, 'a.sock'), '--no-http', '--no-watch']);
  });

  afterAll(async () => {
    await d?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('`xdbm validate` refuses it with its position (exit 2)', async () => {
    const r = await cli(['validate', bomb]);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toContain(`${bomb}:11:27`);
  });

  it('`xdbm reload` and the admin validate method refuse it while the daemon keeps answering', async () => {
    const client = new AdminClient({ socketPath: d.socket, timeoutMs: 10_000 });
    const t0 = performance.now();
    const [reload, validate, active] = await Promise.all([
      x('reload', bomb),
      client.call('validate', { yamlText: aliasBomb(), sourceName: 'bomb.yaml' }).then((v) => v, (e: unknown) => e),
      client.call('active', {}),
    ]);
    expect(reload.code).toBe(2);
    expect(reload.stderr).toMatch(/XDBM_CONFIG_INVALID/);
    expect(reload.stderr).toMatch(/:11:27 .*aliases/);
    expect(JSON.stringify(validate)).toMatch(/aliases/);
    expect(Array.isArray(active)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(10_000);
    // SIGHUP: still serving
    d.proc.kill('SIGHUP');
    expect((await x('active', '--json')).code).toBe(0);
  });

  it('a large valid-size file is parsed off the event loop: the admin socket keeps answering meanwhile', async () => {
    let text = 'x-pad:\n';
    for (let i = 0; text.length < 250 * 1024; i++) text += `  - { a: ${i}, b: "value ${i}" }\n`;
    text += 'dynamic_backend_manager:\n  candidate_nodes: []\n';
    // what an inline parse costs on this machine now (the daemon would stall that long)
    const t0 = performance.now();
    readYaml(text);
    const inlineMs = performance.now() - t0;
    const client = new AdminClient({ socketPath: d.socket, timeoutMs: 20_000 });
    let maxPingMs = 0;
    let done = false;
    const pinger = (async () => {
      while (!done) {
        const t = performance.now();
        await client.call('active', {});
        maxPingMs = Math.max(maxPingMs, performance.now() - t);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const v = await client.call('validate', { yamlText: text, sourceName: 'big.yaml' }).then(() => 'ok', (e: { code?: string }) => e.code);
    done = true;
    await pinger;
    expect(v).toBe('XDBM_CONFIG_INVALID'); // parsed, then judged: no candidate nodes
    console.log(`250 KiB config: inline parse ${inlineMs.toFixed(0)} ms; longest admin answer meanwhile ${maxPingMs.toFixed(0)} ms`);
    if (inlineMs > 200) expect(maxPingMs).toBeLessThan(inlineMs);
  });
});
