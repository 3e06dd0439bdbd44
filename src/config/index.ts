/** Configuration layer: load, validate, serialise. Types are in ./types.js. */
export { parseConfig, loadConfigFile, loadNodeFile, configFromObject, validateManagerConfig, parseNodeYaml, validateNodeAgainst } from './load.js';
export type { ParseOptions, NodeCheckOptions } from './load.js';
export { configToYaml, configToObject, nodeToYaml, nodeToObject } from './serialize.js';
export { formatConfigIssues, issuesOf, formatIssueLines } from './issues.js';
export type { ConfigIssue } from './issues.js';
export type { ConditionChecker } from './reader.js';
export { parseConnectionString, connectionTarget } from './connection-string.js';
export { failureDomainOf, distinctDomains } from './domains.js';
export { DEFAULTS, DEFAULT_ALERT_RULES, defaultSocketPath, defaultProbeTimeoutMs } from './defaults.js';
export * from './types.js';
