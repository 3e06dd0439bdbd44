/**
 * Worker side of readYamlOffThread: parses one YAML text and posts the plain value, the issues and
 * the position tables back. Runs in a worker thread so a large or hostile file never holds the
 * daemon's event loop (probes, failover, the admin socket and HTTP keep running meanwhile).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readYaml, positionTables } from './yaml-source.js';

const { text, rootPath } = workerData as { text: string; rootPath: string };
const r = readYaml(text, rootPath);
parentPort!.postMessage({ value: r.value, syntaxIssues: r.syntaxIssues, positions: positionTables(r.positions) });
