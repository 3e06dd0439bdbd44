/**
 * Hot reload: `xdbm reload [file]`, SIGHUP, and a debounced fs.watch on the config file all go through
 * one ReloadController, which runs one reload at a time. The new config is validated whole first; an
 * invalid one is rejected with every issue and the running config stays. A file whose content did not
 * change since the last applied reload is not re-applied by the watcher (editors write files twice).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ManagerConfig } from '../config/types.js';
import type { ReloadResult } from '../manager-api.js';

export interface ReloadControllerOptions {
  /** The file the running config came from (reload without a file re-reads it). */
  file: string;
  load(file: string): Promise<ManagerConfig>;
  apply(cfg: ManagerConfig): Promise<ReloadResult>;
  onApplied?(file: string, result: ReloadResult, trigger: string): void;
  onRejected?(file: string, err: unknown, trigger: string): void;
}

export class ReloadController {
  #file: string;
  #queue: Promise<unknown> = Promise.resolve();
  #lastHash = '';
  #opts: ReloadControllerOptions;
  #watcher?: ConfigFileWatcher;
  #debounceMs = 300;

  constructor(opts: ReloadControllerOptions) {
    this.#opts = opts;
    this.#file = path.resolve(opts.file);
    this.#lastHash = hashFile(this.#file);
  }

  get file(): string {
    return this.#file;
  }

  /** Reloads from `file` (default: the current file). A valid new file becomes the current one. */
  reload(file?: string, trigger = 'admin'): Promise<{ file: string; applied: ReloadResult }> {
    const target = file === undefined ? this.#file : path.resolve(file);
    const run = async (): Promise<{ file: string; applied: ReloadResult }> => {
      try {
        const hash = hashFile(target);
        const cfg = await this.#opts.load(target);
        const applied = await this.#opts.apply(cfg);
        this.#lastHash = hash;
        if (target !== this.#file) {
          this.#file = target;
          if (this.#watcher) this.watch(this.#debounceMs);
        }
        this.#opts.onApplied?.(target, applied, trigger);
        return { file: target, applied };
      } catch (e) {
        this.#opts.onRejected?.(target, e, trigger);
        throw e;
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** The current file was rewritten by the daemon itself (a saved runtime change): not a reason to reload. */
  adopt(): void {
    this.#lastHash = hashFile(this.#file);
  }

  /** Starts watching the current file; changes are reloaded after `debounceMs` of quiet. */
  watch(debounceMs = 300): void {
    this.#debounceMs = debounceMs;
    this.#watcher?.close();
    this.#watcher = new ConfigFileWatcher(this.#file, debounceMs, () => {
      if (hashFile(this.#file) === this.#lastHash) return;
      this.reload(undefined, 'file-watch').catch(() => undefined);
    });
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

function hashFile(file: string): string {
  try {
    return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch {
    return '';
  }
}

/**
 * Watches one file through its directory (so an editor's write-new-then-rename is seen too) and calls
 * onChange once per burst of events.
 */
export class ConfigFileWatcher {
  #watcher?: fs.FSWatcher;
  #timer?: NodeJS.Timeout;

  constructor(file: string, debounceMs: number, onChange: () => void) {
    const dir = path.dirname(file);
    const base = path.basename(file);
    try {
      this.#watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (name !== null && name.toString() !== base) return;
        clearTimeout(this.#timer);
        this.#timer = setTimeout(onChange, debounceMs);
        this.#timer.unref();
      });
      this.#watcher.on('error', () => this.close());
    } catch {
      this.#watcher = undefined; // directory gone or not watchable: SIGHUP and `xdbm reload` still work
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
