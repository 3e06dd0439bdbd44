/** NVMe-oF through libnvme: host identity, topology, connect/disconnect, discovery, health. */
export { loadLibnvme, LIBNVME_SONAME, LIBNVME_DEBIAN_PACKAGE, type LibNvme } from './libnvme.js';
export { hostNqn, hostId, scanControllers, HOSTNQN_UUID_RE, type ControllerInfo, type NamespaceInfo } from './topology.js';
export { connect, disconnect, discover, DISCOVERY_NQN, DEFAULT_NVME_TCP_PORT, type ConnectOptions, type ConnectResult, type FabricsTarget } from './fabrics.js';
export { findNamespaceDevice, listControllers, listNamespaces, readControllerState, readAnaState } from './sysfs.js';
export { readHealth, readSmartLog, NVME_NSID_ALL, type NvmeHealth, type SmartSummary } from './health.js';
export { parseSmartLog, parseAnaState, parseControllerState, criticalWarningNames, type AnaState, type ControllerState, type SmartLog } from './health-log.js';
export { parseDiscoveryLog, type DiscoveryEntry } from './discovery-log.js';
