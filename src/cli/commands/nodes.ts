/** `xdbm nodes add <yaml-file>` and `xdbm nodes remove <node-id>` (seed add/remove_candidate_node). */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ErrorCode, XdbmError } from '../../errors.js';
import { act, addClientOptions, reportError, runClient, type ClientOpts } from './common.js';

export function register(program: Command): void {
  const nodes = program.command('nodes').description('add or remove candidate nodes at run time');
  addClientOptions(
    nodes
      .command('add')
      .description('add a candidate node described in a YAML file (one node: node_id, address, endpoints)')
      .argument('<yaml-file>', 'YAML file with the node'),
  ).action(async (file: string, opts: ClientOpts) => {
    const abs = path.resolve(file);
    let text: string;
    try {
      text = fs.readFileSync(abs, 'utf8');
    } catch (e) {
      const err = new XdbmError(ErrorCode.CONFIG_NOT_FOUND, `cannot read ${abs}: ${(e as Error).message}`, { cause: e });
      process.exitCode = reportError(err, opts.json);
      return;
    }
    await runClient(opts, (c) => c.nodesAdd(text, abs), (r) => `Node ${r.nodeId} added with endpoints: ${r.endpoints.join(', ')}`);
  });
  addClientOptions(
    nodes
      .command('remove')
      .description('remove a candidate node; its active backends are failed over first. Refused (exit 2) when log entries would keep fewer than ack_quorum copies')
      .argument('<node-id>', 'node id')
      .option('--drain', 're-replicate what only this node holds first, then remove it')
      .option('--force', 'remove even if log entries keep fewer than ack_quorum copies (say so only if those copies are lost anyway)'),
  ).action((nodeId: string, opts: ClientOpts & { drain?: boolean; force?: boolean }) =>
    act(opts, (c) => c.nodesRemove(nodeId, { ...(opts.drain ? { drain: true } : {}), ...(opts.force ? { force: true } : {}) }),
      (r) => `Node ${r.nodeId} removed${r.drained ? ' after draining' : ''}${r.forced ? ' (forced: the data-safety check was skipped)' : ''}`));
}
