/**
 * Worker threads on Node 20 cannot load TypeScript, so worker tests transpile the real sources
 * (src/nvme/** and src/errors.ts, no type check: tsc covers that) into a temp dir whose
 * node_modules links to the project's, and import the JS from there.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? tsFiles(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []);
}

export interface Transpiled {
  /** Temp root; the JS of src/x.ts is at `${dir}/src/x.js`. */
  dir: string;
  url(relJs: string): string;
  cleanup(): void;
}

/** Transpiles `srcDirs` (relative to the repo root, e.g. 'src/nvme') plus single files. */
export function transpile(srcDirs: string[], files: string[]): Transpiled {
  const dir = mkdtempSync(path.join(tmpdir(), 'xdbm-nvme-js-'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  const all = [...srcDirs.flatMap((d) => tsFiles(path.join(ROOT, d))), ...files.map((f) => path.join(ROOT, f))];
  for (const f of all) {
    const out = ts.transpileModule(readFileSync(f, 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: f,
    });
    const dest = path.join(dir, path.relative(ROOT, f)).replace(/\.ts$/, '.js');
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, out.outputText);
  }
  return {
    dir,
    url: (relJs) => new URL(`file://${path.join(dir, relJs)}`).href,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
