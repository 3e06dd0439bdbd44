/**
 * Runtime changes (`xdbm weight`, `nodes add`, `nodes remove`) written back into the config file, so
 * a later reload, SIGHUP or file edit does not silently undo them (a drain to weight 0 coming back at
 * 0.9). The file is edited as a YAML document (comments and layout of everything else kept) and
 * replaced atomically: written to a temporary file in the same directory, fsynced, renamed over.
 * When that cannot be done the caller records the change as not persisted and reload reports it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { ErrorCode, XdbmError } from '../errors.js';
import { MAX_CONFIG_BYTES } from '../config/yaml-source.js';

const ROOT = 'dynamic_backend_manager';

function load(file: string): Document {
  const text = fs.readFileSync(file, 'utf8');
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) throw new XdbmError(ErrorCode.CONFIG_INVALID, `${file} is larger than ${MAX_CONFIG_BYTES} bytes`);
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new XdbmError(ErrorCode.CONFIG_INVALID, `${file} does not parse as YAML any more: ${doc.errors[0]!.message.split('\n')[0]}`);
  return doc;
}

/** Atomic replace: temp file in the same directory (same file system), fsync, rename, fsync the directory. */
function writeAtomic(link: string, text: string): void {
  // a symlinked config is edited where it lives: renaming over the link would replace it by a copy
  const file = fs.realpathSync(link);
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.xdbm-${process.pid}.tmp`);
  const mode = fs.statSync(file).mode & 0o777;
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  const dfd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dfd);
  } finally {
    fs.closeSync(dfd);
  }
}

function nodesSeq(doc: Document, file: string) {
  const seq = doc.getIn([ROOT, 'candidate_nodes'], true);
  if (!isSeq(seq)) throw new XdbmError(ErrorCode.CONFIG_INVALID, `${file}: no candidate_nodes list to edit`);
  return seq;
}

function scalarValue(node: unknown): unknown {
  return isScalar(node) ? node.value : undefined;
}

/** Sets the weight of endpoint `endpointId` in the file. */
export function persistWeight(file: string, endpointId: string, weight: number): void {
  const doc = load(file);
  for (const n of nodesSeq(doc, file).items) {
    if (!isMap(n)) continue;
    const eps = (n as YAMLMap).get('endpoints', true);
    if (!isSeq(eps)) continue;
    for (const e of eps.items) {
      if (isMap(e) && scalarValue((e as YAMLMap).get('endpoint_id', true)) === endpointId) {
        (e as YAMLMap).set('weight', weight);
        writeAtomic(file, doc.toString());
        return;
      }
    }
  }
  throw new XdbmError(ErrorCode.UNKNOWN_ENDPOINT, `${file}: endpoint ${endpointId} is not written in the file (an alias or a merge key?)`);
}

/** Appends the node given as YAML text to candidate_nodes. */
export function persistNodeAdd(file: string, nodeYaml: string): void {
  const doc = load(file);
  const node = parseDocument(nodeYaml);
  if (node.errors.length > 0 || !isMap(node.contents)) throw new XdbmError(ErrorCode.CONFIG_INVALID, 'the node is not a YAML mapping');
  nodesSeq(doc, file).items.push(node.contents);
  writeAtomic(file, doc.toString());
}

/** Removes node `nodeId` from candidate_nodes. */
export function persistNodeRemove(file: string, nodeId: string): void {
  const doc = load(file);
  const seq = nodesSeq(doc, file);
  const i = seq.items.findIndex((n) => isMap(n) && scalarValue((n as YAMLMap).get('node_id', true)) === nodeId);
  if (i < 0) throw new XdbmError(ErrorCode.UNKNOWN_NODE, `${file}: node ${nodeId} is not written in the file`);
  seq.items.splice(i, 1);
  writeAtomic(file, doc.toString());
}
