/** Public API of xdevice-backend-manager. */
export { BackendManager, type ManagerOptions, type WarningEvent } from './manager.js';
export type {
  ActiveChangedEvent, BackendManagerApi, BackendStatus, CandidateStatus, FailoverRecord, ManagerStats, ReloadResult,
  StateChangedEvent,
} from './manager-api.js';
export * from './types.js';
export { ErrorCode, XdbmError, isXdbmError, fromSystemError } from './errors.js';
export type * from './config/types.js';
export { parseConfig, loadConfigFile, configFromObject, configToYaml, parseNodeYaml } from './config/index.js';
export type { StorageBackend, ProbeTarget, BackendFactory } from './backends/backend.js';
export { BackendBase } from './backends/backend.js';
export { createBackend } from './backends/index.js';
export type { ProbeRunner, ProbeResult, ProbeOptions } from './probes/types.js';
export { DirectProbeRunner } from './probes/direct-runner.js';
export type { MetricsStore } from './metrics/types.js';
export {
  latencyScore, bandwidthScore, bandwidthScoreMbitps, reliabilityScore, loadScore, scoreCandidate,
} from './selection/scoring.js';
export { selectActive, selectReplacement, rankReplacements } from './selection/select.js';
export type { CandidateView, SelectionSnapshot, ScoreBreakdown } from './selection/types.js';
export { applyProbe, initialHealth, type HealthRecord } from './health/state-machine.js';
export * from './wal/index.js';
