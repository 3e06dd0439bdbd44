/** Whatever the text, parseConfig returns a config or throws XDBM_CONFIG_INVALID with positioned issues; never anything else. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isXdbmError } from '../../src/errors.js';
import { configFromObject, parseConfig } from '../../src/config/load.js';
import { issuesOf } from '../../src/config/issues.js';
import { P, issueAt, issuesFor, posOf } from './helpers.js';

const SEED = readFileSync(path.resolve(import.meta.dirname, '../../examples/seed-sample.yaml'), 'utf8');

/** Small deterministic PRNG (mulberry32) so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, rand: () => number): string {
  const lines = text.split('\n');
  const i = Math.floor(rand() * lines.length);
  const pick = (xs: string[]): string => xs[Math.floor(rand() * xs.length)]!;
  switch (Math.floor(rand() * 5)) {
    case 0: lines.splice(i, 1); break;
    case 1: lines[i] = ' ' + lines[i]; break;
    case 2: lines[i] = lines[i]!.replace(/: .*$/, `: ${pick(['-1', '0', '1e9', 'null', '[]', '{}', 'yes', '"x"', '2.5', '~', '&a b', '*a'])}`); break;
    case 3: lines.splice(i, 0, lines[Math.floor(rand() * lines.length)]!); break;
    default: { const l = lines[i]!; const c = Math.floor(rand() * l.length); lines[i] = l.slice(0, c) + l.slice(c + 1); }
  }
  return lines.join('\n');
}

describe('robustness', () => {
  it('300 random mutations of the seed sample: valid, or CONFIG_INVALID with every issue positioned', () => {
    const rand = rng(20261124);
    let invalid = 0;
    for (let n = 0; n < 300; n++) {
      let t = SEED;
      const k = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < k; j++) t = mutate(t, rand);
      try {
        parseConfig(t, 'm.yaml');
      } catch (e) {
        expect(isXdbmError(e, ErrorCode.CONFIG_INVALID), `mutation ${n}: ${String(e)}`).toBe(true);
        const issues = issuesOf(e);
        expect(issues.length).toBeGreaterThan(0);
        for (const i of issues) {
          expect(i.line, `mutation ${n}: ${JSON.stringify(i)}`).toBeGreaterThanOrEqual(1);
          expect(i.column).toBeGreaterThanOrEqual(1);
          expect(i.message.length).toBeGreaterThan(10);
        }
        invalid++;
      }
    }
    expect(invalid).toBeGreaterThan(50); // the mutations do break things
  });

  it('a __proto__ key is an unknown key, never a prototype', () => {
    const t = `dynamic_backend_manager:\n  __proto__: { target_active_backends: 1 }\n  candidate_nodes: []\n`;
    const i = issueAt(issuesFor(t), `${P}.__proto__`);
    expect({ line: i.line, column: i.column }).toEqual(posOf(t, '__proto__'));
    expect(() => configFromObject(JSON.parse('{"__proto__": {"x": 1}, "candidate_nodes": []}'))).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
  });

  it('odd plain values for configFromObject are issues, not crashes', () => {
    for (const v of [null, 42, 'text', [], { dynamic_backend_manager: [] }, { dynamic_backend_manager: { candidate_nodes: [null, 1, 'x', [[]]] } }]) {
      expect(() => configFromObject(v)).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
    }
  });
});
