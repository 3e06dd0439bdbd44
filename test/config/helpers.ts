/** Test helpers: a small valid config to mutate, and positions computed from the text itself. */
import { expect } from 'vitest';
import { ErrorCode, isXdbmError } from '../../src/errors.js';
import { parseConfig, type ParseOptions } from '../../src/config/load.js';
import { issuesOf, type ConfigIssue } from '../../src/config/issues.js';

export const P = 'dynamic_backend_manager';

/** Three nodes, one local endpoint each: valid as it stands. */
export const BASE = `dynamic_backend_manager:
  target_active_backends: 3
  candidate_nodes:
    - node_id: n1
      address: 10.0.0.1
      endpoints:
        - endpoint_id: e1
          type: local
          connection_string: file:///srv/e1
    - node_id: n2
      address: 10.0.0.2
      endpoints:
        - endpoint_id: e2
          type: local
          connection_string: file:///srv/e2
    - node_id: n3
      address: 10.0.0.3
      endpoints:
        - endpoint_id: e3
          type: local
          connection_string: file:///srv/e3
`;

/** BASE with one exact substring replaced (fails loudly when the substring is not there). */
export function edit(from: string, to: string, text = BASE): string {
  expect(text.includes(from), `fixture has '${from}'`).toBe(true);
  return text.replace(from, to);
}

/** BASE plus a section appended under dynamic_backend_manager (give it indented by 2). */
export function withSection(section: string, text = BASE): string {
  return text + section.replace(/^\n/, '');
}

/** The issues of an invalid text; fails the test when the text is valid or the code is wrong. */
export function issuesFor(text: string, opts: ParseOptions = {}): ConfigIssue[] {
  try {
    parseConfig(text, 't.yaml', opts);
  } catch (e) {
    expect(isXdbmError(e, ErrorCode.CONFIG_INVALID), String(e)).toBe(true);
    return issuesOf(e);
  }
  throw new Error('expected the configuration to be rejected, but it was accepted');
}

/**
 * 1-based line and column of `token` on the `nth` line that contains `lineHas` (column of the first
 * character of `token`; of `lineHas` itself when token is omitted). Independent of the YAML library.
 */
export function posOf(text: string, lineHas: string, token?: string, nth = 0): { line: number; column: number } {
  const lines = text.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.includes(lineHas)) {
      if (seen++ < nth) continue;
      let col = l.indexOf(token ?? lineHas, l.indexOf(lineHas));
      if (col < 0 && token !== undefined) col = l.indexOf(token);
      expect(col, `token '${token}' on line ${i + 1}`).toBeGreaterThanOrEqual(0);
      return { line: i + 1, column: col + 1 };
    }
  }
  throw new Error(`no line contains '${lineHas}'`);
}

/** The one issue with this path (fails when there is none or several). */
export function issueAt(issues: ConfigIssue[], path: string): ConfigIssue {
  const hits = issues.filter((i) => i.path === path);
  expect(hits.map((i) => i.path), `issues: ${JSON.stringify(issues, null, 1)}`).toEqual([path]);
  return hits[0]!;
}

/** Asserts the only issue is at `path` and `pos`; returns it. */
export function onlyIssue(text: string, path: string, pos: { line: number; column: number }): ConfigIssue {
  const issues = issuesFor(text);
  expect(issues.map((i) => `${i.path} ${i.message}`)).toHaveLength(1);
  const i = issueAt(issues, path);
  expect({ line: i.line, column: i.column }).toEqual(pos);
  return i;
}
