/**
 * Path rules of the configuration: absolute after resolution, no NUL byte, no `..` segment in a path
 * given as absolute (a relative one may climb out of the config directory: it is resolved first).
 */
import path from 'node:path';

export type PathCheck = { ok: true; path: string } | { ok: false; message: string };

export interface PathRules {
  /** Resolve relative paths against this directory (default: the working directory). */
  baseDir?: string;
  /** Relative paths allowed (resolved against baseDir); otherwise they are an error. */
  allowRelative?: boolean;
  /** The normalised path must lie strictly under this directory (e.g. '/dev'). */
  under?: string;
}

/** Checks and normalises a path; never throws. */
export function checkPath(raw: string, rules: PathRules = {}): PathCheck {
  if (raw.length === 0) return { ok: false, message: 'path is empty' };
  if (raw.includes('\0')) return { ok: false, message: 'path contains a NUL byte' };
  let resolved: string;
  if (path.posix.isAbsolute(raw)) {
    if (raw.split('/').includes('..')) {
      return { ok: false, message: `path '${raw}' contains a '..' segment: write the absolute path it means` };
    }
    resolved = path.posix.normalize(raw);
  } else if (rules.allowRelative) {
    resolved = path.resolve(rules.baseDir ?? process.cwd(), raw);
  } else {
    return { ok: false, message: `path '${raw}' is not absolute: start it with '/'` };
  }
  if (resolved.length > 1 && resolved.endsWith('/')) resolved = resolved.slice(0, -1);
  if (rules.under !== undefined) {
    const root = rules.under.endsWith('/') ? rules.under : `${rules.under}/`;
    if (!resolved.startsWith(root) || resolved.length === root.length) {
      return { ok: false, message: `path '${raw}' must name something under ${root}` };
    }
  }
  return { ok: true, path: resolved };
}
