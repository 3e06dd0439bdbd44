/** `xdbm reload [file]`: validate a config whole and apply it as a diff (seed cli_reload_config). */
import path from 'node:path';
import type { Command } from 'commander';
import { addClientOptions, runClient, type ClientOpts } from './common.js';

export function register(program: Command): void {
  addClientOptions(
    program
      .command('reload')
      .description('reload the daemon config (default: the file it runs with); an invalid file is rejected with its errors (exit 2) and the running config stays')
      .argument('[file]', 'config file to load instead; it becomes the file the daemon watches'),
  ).action(async (file: string | undefined, opts: ClientOpts) => {
    const abs = file === undefined ? undefined : path.resolve(file);
    if (!opts.json) process.stdout.write(`Reloading configuration from ${abs ?? 'the daemon\'s config file'}...\n`);
    await runClient(opts, (c) => c.reload(abs), (r) => {
      const a = r.applied;
      const list = (label: string, ids: string[]) => (ids.length ? `\n  ${label}: ${ids.join(', ')}` : '');
      const settings = a.settings ?? [];
      return `Configuration reloaded successfully from ${r.file} (added ${a.added.length}, removed ${a.removed.length}, changed ${a.changed.length + settings.length})` +
        list('added', a.added) + list('removed', a.removed) + list('changed', a.changed) + list('settings', settings) +
        list('runtime changes kept (saved in the file)', a.runtime?.kept ?? []) +
        list('runtime changes DROPPED (not in the file)', a.runtime?.dropped ?? []);
    });
  });
}
