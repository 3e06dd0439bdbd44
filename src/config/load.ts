/**
 * Entry points of the configuration layer: YAML text or file or plain object -> validated ManagerConfig,
 * or XDBM_CONFIG_INVALID carrying every issue (path, line, column, message) at once.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, XdbmError, fromSystemError } from '../errors.js';
import { IssueList, throwIfIssues, type ConfigIssue } from './issues.js';
import { Reader } from './reader.js';
import { configToObject } from './serialize.js';
import { ROOT_KEY, validateDocument, type ValidateOptions } from './validate.js';
import { newNodeContext, readNode } from './validate-nodes.js';
import { readYamlOffThread } from './yaml-offthread.js';
import { readYaml, type YamlSource } from './yaml-source.js';
import type { ManagerConfig, NodeConfig } from './types.js';

export interface ParseOptions extends ValidateOptions {
  /** Directory that relative paths (file:, metadata path, socket path) resolve against; default: working directory. */
  baseDir?: string;
}

/** Parses and validates YAML text. `sourceName` only names the source in messages. */
export function parseConfig(text: string, sourceName?: string, opts: ParseOptions = {}): ManagerConfig {
  return validateSource(readYaml(text), sourceName, opts);
}

/** parseConfig with the YAML parse on a worker thread for large texts (the daemon's event loop stays free). */
export async function parseConfigAsync(text: string, sourceName?: string, opts: ParseOptions = {}): Promise<ManagerConfig> {
  return validateSource(await readYamlOffThread(text), sourceName, opts);
}

function validateSource(src: YamlSource, sourceName: string | undefined, opts: ParseOptions): ManagerConfig {
  throwIfIssues(src.syntaxIssues, sourceName);
  const issues = new IssueList(src.positions);
  const cfg = validateDocument(src.value, issues, opts);
  throwIfIssues(issues, sourceName);
  return cfg!;
}

/**
 * Reads and validates a YAML file. Relative paths inside resolve against the file's directory.
 * XDBM_CONFIG_NOT_FOUND when the file does not exist.
 */
export async function loadConfigFile(file: string, opts: Omit<ParseOptions, 'baseDir'> = {}): Promise<ManagerConfig> {
  const abs = path.resolve(file);
  const text = await readConfigText(file, abs);
  const cfg = await parseConfigAsync(text, file, { ...opts, baseDir: path.dirname(abs) });
  cfg.sourcePath = abs;
  return cfg;
}

/** Reads a node file for `xdbm nodes add` (relative paths resolve against its directory). */
export async function loadNodeFile(file: string): Promise<NodeConfig> {
  const abs = path.resolve(file);
  return parseNodeYaml(await readConfigText(file, abs), file, { baseDir: path.dirname(abs) });
}

async function readConfigText(file: string, abs: string): Promise<string> {
  try {
    return await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new XdbmError(ErrorCode.CONFIG_NOT_FOUND, `configuration file ${file} not found${code === 'EISDIR' ? ' (it is a directory)' : ''}`,
        { syscallCode: code, cause: e });
    }
    throw fromSystemError(e, `reading configuration file ${file}`);
  }
}

/**
 * Validates a plain object with the YAML keys: either `{ dynamic_backend_manager: {...} }` or the inner
 * mapping alone. Issue paths always start with `dynamic_backend_manager`; they carry no positions.
 */
export function configFromObject(obj: unknown, opts: ParseOptions = {}): ManagerConfig {
  const isWrapped = obj !== null && typeof obj === 'object' && !Array.isArray(obj) && ROOT_KEY in obj;
  const doc = isWrapped ? obj : { [ROOT_KEY]: obj };
  const issues = new IssueList();
  const cfg = validateDocument(doc, issues, opts);
  throwIfIssues(issues);
  return cfg!;
}

/** Re-validates a ManagerConfig built or edited in code (keeps its sourcePath). */
export function validateManagerConfig(cfg: ManagerConfig): ManagerConfig {
  const out = configFromObject(configToObject(cfg), { baseDir: cfg.sourcePath ? path.dirname(cfg.sourcePath) : undefined });
  if (cfg.sourcePath !== undefined) out.sourcePath = cfg.sourcePath;
  return out;
}

/**
 * Parses one candidate-node mapping (node_id, address, labels, endpoints), the file of
 * `xdbm nodes add FILE`. Same rules as a node inside the full config; paths have no prefix.
 */
export function parseNodeYaml(text: string, sourceName?: string, opts: ParseOptions = {}): NodeConfig {
  return validateNodeSource(readYaml(text), sourceName, opts);
}

/** parseNodeYaml with the YAML parse off the event loop for large texts. */
export async function parseNodeYamlAsync(text: string, sourceName?: string, opts: ParseOptions = {}): Promise<NodeConfig> {
  return validateNodeSource(await readYamlOffThread(text), sourceName, opts);
}

function validateNodeSource(src: YamlSource, sourceName: string | undefined, opts: ParseOptions): NodeConfig {
  throwIfIssues(src.syntaxIssues, sourceName);
  const issues = new IssueList(src.positions);
  const node = readNode(new Reader(issues, opts.baseDir), '', src.value, newNodeContext(opts.baseDir));
  if (node === undefined && issues.length === 0) issues.add('', 'expected one candidate node: a mapping with node_id, address and endpoints');
  throwIfIssues(issues, sourceName);
  return node!;
}

export interface NodeCheckOptions {
  /** The node id being replaced (updateNodeConfig): its own ids do not count as duplicates. */
  replacing?: string;
}

/**
 * Checks a node against a config before adding it (or replacing `opts.replacing`): node id and
 * endpoint ids unique (XDBM_DUPLICATE_ID), then the resulting config valid as a whole (XDBM_CONFIG_INVALID,
 * e.g. a missing failure-domain label). Returns the resulting config.
 */
export function validateNodeAgainst(cfg: ManagerConfig, node: NodeConfig, opts: NodeCheckOptions = {}): ManagerConfig {
  const others = cfg.candidateNodes.filter((n) => n.nodeId !== opts.replacing);
  const issues: ConfigIssue[] = [];
  if (opts.replacing !== undefined && !cfg.candidateNodes.some((n) => n.nodeId === opts.replacing)) {
    throw new XdbmError(ErrorCode.UNKNOWN_NODE, `no candidate node '${opts.replacing}' to replace`);
  }
  if (others.some((n) => n.nodeId === node.nodeId)) {
    issues.push({ path: 'node_id', message: `node id '${node.nodeId}' is already in the candidate pool; choose another id`, code: ErrorCode.DUPLICATE_ID });
  }
  const taken = new Map<string, string>();
  for (const n of others) for (const e of n.endpoints) taken.set(e.endpointId, n.nodeId);
  node.endpoints.forEach((e, j) => {
    const owner = taken.get(e.endpointId);
    if (owner !== undefined) {
      issues.push({ path: `endpoints[${j}].endpoint_id`, message: `endpoint id '${e.endpointId}' is already used by node '${owner}'; endpoint ids must be unique across all nodes`, code: ErrorCode.DUPLICATE_ID });
    }
  });
  throwIfIssues(issues, undefined, ErrorCode.DUPLICATE_ID);
  const nodes = opts.replacing === undefined
    ? [...cfg.candidateNodes, node]
    : cfg.candidateNodes.map((n) => (n.nodeId === opts.replacing ? node : n));
  return validateManagerConfig({ ...cfg, candidateNodes: nodes });
}
