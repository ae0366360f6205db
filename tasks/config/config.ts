// The cluster config: every tunable of the cluster in one typed place, with defaults.
// Targets declare the fields they read as inputs (`inputs.values`), so changing one field rebuilds
// exactly the targets that read it. Types here are `type` aliases (not interfaces) so they are Json.

import type { Json } from '../../lib/engine/target.ts';
import { kubeadmImageVersions, supportedKubernetesMinors } from '../images/image-versions.ts';
import { defaultAddons, type AddonsConfig } from '../addons/spec.ts';
import { NODE_ARCHES, type NodeArch } from './arches.ts';

/** What a node does in the cluster. Control-plane nodes run etcd and the control plane; workers run pods. */
export type NodeRole = 'control-plane' | 'worker';

/** One machine of the cluster (a Docker container acting as a bare-metal node). */
export type NodeSpec = {
  /** Node name: container hostname, kubelet node name, certificate identity (`system:node:<name>`). */
  name: string;
  role: NodeRole;
};

/**
 * A node that is a real machine reached over SSH instead of a container (tasks/nodes/machines.ts), in the
 * spirit of Kubernetes the Hard Way's machines.txt. When `machines` is set, the nodes are its entries.
 */
export type MachineSpec = {
  /** Node name, as in `nodes`: the kubelet's node name and certificate identity (the machine's hostname is not changed). */
  name: string;
  role: NodeRole;
  /** IPv4 address: where the build connects, and the node's IP in the cluster (certificates, routes, etcd). */
  address: string;
  /** SSH port (default 22). */
  port?: number;
  /** Login user: root, or a user with passwordless sudo. */
  user: string;
  /** Private key file (`~/` is the home directory; relative to the project root); absent: the SSH agent (SSH_AUTH_SOCK). */
  key?: string;
  /**
   * The machine's CPU architecture, `amd64` or `arm64` (`dpkg --print-architecture` on it; its preflight
   * checks). Absent: the build host's. Another than the build host's gets binaries and images cross-built
   * for it (tasks/config/arches.ts).
   */
  arch?: NodeArch;
};

/**
 * Where the Kubernetes binaries come from (see tasks/binaries): the official release files, a directory
 * on disk, or a build from the k8s.io/kubernetes Go module. `auto` uses the release files when the
 * release host answers and builds from source otherwise, saying which it chose.
 */
export type BinarySource = 'auto' | 'release' | 'dir' | 'go';
export const BINARY_SOURCES: readonly BinarySource[] = ['auto', 'release', 'dir', 'go'];

/** Key algorithm used when a request config in csr/ does not say otherwise. */
export type KeyAlgorithm = 'ecdsa' | 'rsa';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ecdsa', 'rsa'];

/** How in-cluster clients reach the API (ClusterConfig.apiEndpoint). */
export type ApiEndpointMode = 'auto' | 'load-balancer';
export const API_ENDPOINT_MODES: readonly ApiEndpointMode[] = ['auto', 'load-balancer'];

/** The API endpoint container's name part: the container is `<clusterName>-api`, so no node may be named so. */
export const API_ENDPOINT_NAME = 'api';

export type ClusterConfig = {
  /** Names the Docker network, labels every container, and is the kubeconfig cluster name. */
  clusterName: string;
  /** The nodes, in order; control planes first by convention. */
  nodes: NodeSpec[];
  /** The Docker network's subnet; node IPs are allocated from it by the IP plan. */
  nodeSubnet: string;
  /** Host part of the first control-plane IP; control planes count up from here. */
  controlPlaneIpStart: number;
  /** Host part of the first worker IP; workers count up from here. */
  workerIpStart: number;
  /** Service (ClusterIP) range; its first address is the `kubernetes` Service and is in the apiserver cert. */
  serviceCidr: string;
  /** The whole pod range (controller-manager --cluster-cidr, kube-proxy clusterCIDR). */
  clusterCidr: string;
  /** Prefix length of each worker's slice of clusterCidr (its CNI bridge subnet). */
  podCidrPrefix: number;
  /** The DNS Service's ClusterIP (kubelet clusterDNS, kube-dns Service). */
  clusterDnsIp: string;
  /** DNS domain of the cluster (kubelet clusterDomain, CoreDNS zone). */
  clusterDomain: string;
  /** The Kubernetes version, pinned here and only here (see README for why this one). */
  kubernetesVersion: string;
  /**
   * The etcd release the control planes run, built from etcd's Go modules. `auto`: the minor kubeadm
   * deploys with kubernetesVersion (tasks/images/image-versions.ts). A release `vX.Y.Z` pins one, e.g. to
   * step a cluster through the minor in between (etcd upgrades one minor at a time).
   */
  etcdVersion: string;
  /** Where the Kubernetes binaries come from. */
  binarySource: BinarySource;
  /** Default key algorithm for certificates (csr/*.json may override per cert). */
  keyAlgorithm: KeyAlgorithm;
  /** Port the apiserver listens on (and the API endpoint, on its own address). */
  apiServerPort: number;
  /**
   * Port on the host's 127.0.0.1 published to the API endpoint container (`<clusterName>-api`): the admin
   * kubeconfig's server, so it works wherever container addresses are not routable from the host (Docker
   * Desktop). Two clusters side by side need two ports.
   */
  apiHostPort: number;
  /** Host part of the API endpoint's address on nodeSubnet (2: `10.240.0.2`); it must not be a node's. */
  apiEndpointHost: number;
  /**
   * Where in-cluster clients (kubelets, kube-proxy, CoreDNS) reach the API. `auto`: through the endpoint's
   * load balancer when there is more than one control plane, else straight to the one; `load-balancer`:
   * through it always.
   */
  apiEndpoint: ApiEndpointMode;
  /**
   * KubeletConfiguration fields merged over the rendered kubelet config, by worker name (`*`: every worker),
   * e.g. `{ "worker-2": { "maxPods": 50 } }`. Changing one worker's entry rewrites only that worker's
   * kubelet config and restarts only that kubelet.
   */
  kubeletOverrides: Record<string, Record<string, Json>>;
  /**
   * Merge the admin credentials into your own kubeconfig ($KUBECONFIG, else ~/.kube/config) as context
   * `harder-<clusterName>` and make it current, so `kubectl get nodes` works with no flags (target
   * `host:kubeconfig`). `false`: that file is never read or written (`--no-kubeconfig` for one run).
   */
  mergeKubeconfig: boolean;
  /**
   * Not a spec field (no default, refused in a spec file): set by the CLI for a cluster chosen with `--name`,
   * where this cluster's files live relative to the project root (`output/clusters/<name>`); absent for the
   * default cluster (`output`). Read it through clusterOf (tasks/config/clusters.ts).
   */
  stateDir?: string;
  /** Machines reached over SSH, one per node (empty: every node is a Docker container). */
  machines: MachineSpec[];
  /**
   * The add-ons (tasks/addons): each one switched on or off, with its settings; a spec names only what it
   * changes, e.g. `{ "metallb": { "enabled": false } }`. Switching one off removes what it installed.
   */
  addons: AddonsConfig;
};

/** How many nodes of each kind `defaultNodes` makes. */
export type NodeCounts = {
  controlPlanes: number;
  workers: number;
};

/** Node names: `controller-1..N`, `worker-1..M`. */
export function defaultNodes({ controlPlanes, workers }: NodeCounts): NodeSpec[] {
  const nodes: NodeSpec[] = [];
  for (let i = 1; i <= controlPlanes; i++) nodes.push({ name: `controller-${i}`, role: 'control-plane' });
  for (let i = 1; i <= workers; i++) nodes.push({ name: `worker-${i}`, role: 'worker' });
  return nodes;
}

/**
 * v1.34: the newest minor that still runs on these hosts' cgroup v1 without opting out (1.35 refuses
 * cgroup v1 unless failCgroupV1 is false) and supports Debian bookworm's containerd 1.6 (CRI v1).
 */
export const DEFAULT_KUBERNETES_VERSION = 'v1.34.4';

export const defaultConfig: ClusterConfig = {
  clusterName: 'harder',
  nodes: defaultNodes({ controlPlanes: 1, workers: 2 }),
  nodeSubnet: '10.240.0.0/24',
  controlPlaneIpStart: 10,
  workerIpStart: 20,
  serviceCidr: '10.32.0.0/24',
  clusterCidr: '10.200.0.0/16',
  podCidrPrefix: 24,
  clusterDnsIp: '10.32.0.10',
  clusterDomain: 'cluster.local',
  kubernetesVersion: DEFAULT_KUBERNETES_VERSION,
  etcdVersion: 'auto',
  binarySource: 'auto',
  keyAlgorithm: 'ecdsa',
  apiServerPort: 6443,
  apiHostPort: 6443,
  apiEndpointHost: 2,
  apiEndpoint: 'auto',
  kubeletOverrides: {},
  mergeKubeconfig: true,
  machines: [],
  addons: defaultAddons(),
};

export function controlPlanes(config: ClusterConfig): NodeSpec[] {
  return config.nodes.filter((node) => node.role === 'control-plane');
}

export function workers(config: ClusterConfig): NodeSpec[] {
  return config.nodes.filter((node) => node.role === 'worker');
}

/**
 * Whether the cluster has the API endpoint container: every container cluster does. A cluster of SSH
 * machines has no Docker network to put it on, so there the host and every client talk to the first
 * control plane's address as before (an endpoint for machines is not there yet).
 */
export function hasApiEndpoint(config: Pick<ClusterConfig, 'machines'>): boolean {
  return !(config.machines?.length);
}

/** True when in-cluster clients go through the endpoint's load balancer (more than one control plane, or asked for). */
export function balancedApi(config: ClusterConfig): boolean {
  return hasApiEndpoint(config) && (config.apiEndpoint === 'load-balancer' || controlPlanes(config).length > 1);
}

/**
 * One thing wrong with a config: the field at fault (`apiServerPort`, `nodes[2].name`), what is wrong
 * with its value, and what would be valid. The CLI prints `<file>: <field>: <problem>; <valid>`.
 */
export type ConfigProblem = { field: string; problem: string; valid: string };

/** Problems that stop a config from being built (`errors`) and doubtful choices that do not (`warnings`). */
export type ConfigCheck = { errors: ConfigProblem[]; warnings: ConfigProblem[] };

/**
 * A DNS label (RFC 1123): what a node name must be (it is the container's hostname, the kubelet's node
 * name and a certificate identity) and what the cluster name must be (it names the Docker network and
 * prefixes every container and volume name).
 */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_LABEL_RULE = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

export function labelProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  if (name.length > 63) return `"${name}" is ${name.length} characters long`;
  if (!DNS_LABEL.test(name)) return `"${name}" is not a DNS label`;
  return undefined;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);

/**
 * Checks the fields of a config that are not addresses (those are the IP plan's, tasks/net/ip-plan.ts):
 * the cluster name, the nodes, the apiserver port, the version, the DNS domain, the kubelet overrides.
 * Collects every problem instead of stopping at the first.
 */
export function checkConfigFields(config: ClusterConfig): ConfigCheck {
  const errors: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const error = (field: string, problem: string, valid: string): void => void errors.push({ field, problem, valid });

  const nameProblem = labelProblem(config.clusterName);
  if (nameProblem) {
    error('clusterName', nameProblem, `it names the Docker network and prefixes every container name, so use a DNS label: ${DNS_LABEL_RULE}, e.g. "${defaultConfig.clusterName}"`);
  }

  if (config.nodes.length === 0) error('nodes', 'has no node', 'list at least one { "name": ..., "role": "control-plane" }');
  const firstIndex = new Map<string, number>();
  config.nodes.forEach((node, i) => {
    const problem = labelProblem(node.name);
    if (problem) error(`nodes[${i}].name`, problem, `a node name is its hostname and Kubernetes node name, so use ${DNS_LABEL_RULE}, e.g. "worker-${i + 1}"`);
    const first = firstIndex.get(node.name);
    if (first !== undefined) error(`nodes[${i}].name`, `"${node.name}" is also the name of nodes[${first}]`, 'give every node a different name');
    else firstIndex.set(node.name, i);
    if (node.name === API_ENDPOINT_NAME) error(`nodes[${i}].name`, `"${node.name}" is taken by the API endpoint (its container is ${config.clusterName}-${API_ENDPOINT_NAME})`, `give the node another name, e.g. "worker-${i + 1}"`);
  });
  const controlPlaneCount = controlPlanes(config).length;
  if (config.nodes.length > 0 && controlPlaneCount === 0) error('nodes', 'has no control-plane node', 'give at least one node "role": "control-plane"');
  if (controlPlaneCount > 0 && controlPlaneCount % 2 === 0) {
    // etcd needs a majority of its members up: n members tolerate floor((n-1)/2) failures, as many as n-1.
    const tolerated = Math.floor((controlPlaneCount - 1) / 2);
    warnings.push({
      field: 'nodes',
      problem: `${controlPlaneCount} control planes tolerate ${tolerated} failure${tolerated === 1 ? '' : 's'}, the same as ${controlPlaneCount - 1}: etcd needs a majority (${controlPlaneCount / 2 + 1} of ${controlPlaneCount}) up`,
      valid: `use an odd number of control planes, e.g. ${controlPlaneCount - 1} or ${controlPlaneCount + 1}`,
    });
  }

  if (!Number.isInteger(config.apiServerPort) || config.apiServerPort < 1 || config.apiServerPort > 65535) {
    error('apiServerPort', `${config.apiServerPort} is not a TCP port`, `use a whole number from 1 to 65535, e.g. ${defaultConfig.apiServerPort}`);
  }

  if (!Number.isInteger(config.apiHostPort) || config.apiHostPort < 1 || config.apiHostPort > 65535) {
    error('apiHostPort', `${config.apiHostPort} is not a TCP port`, `use a whole number from 1 to 65535 that no other cluster publishes, e.g. ${defaultConfig.apiHostPort}`);
  }
  if (!API_ENDPOINT_MODES.includes(config.apiEndpoint)) {
    error('apiEndpoint', `${JSON.stringify(config.apiEndpoint)} is not an endpoint mode`, `use one of ${API_ENDPOINT_MODES.join(', ')} (auto: through the load balancer with more than one control plane)`);
  }

  if (!/^v\d+\.\d+\.\d+$/.test(config.kubernetesVersion)) {
    error('kubernetesVersion', `"${config.kubernetesVersion}" is not a release version`, `use vMAJOR.MINOR.PATCH, e.g. "${DEFAULT_KUBERNETES_VERSION}"`);
  } else if (!kubeadmImageVersions(config.kubernetesVersion)) {
    error(
      'kubernetesVersion',
      `${config.kubernetesVersion} is not supported: the cluster images (pause, CoreDNS) have no versions recorded for Kubernetes ${config.kubernetesVersion.replace(/^v(\d+\.\d+)\..*$/, '$1')}`,
      `use a version of Kubernetes ${supportedKubernetesMinors().join(', ')}, e.g. "${DEFAULT_KUBERNETES_VERSION}" (another minor needs a row in KUBEADM_IMAGE_VERSIONS, tasks/images/image-versions.ts)`,
    );
  }

  if (config.etcdVersion !== 'auto' && !/^v3\.\d+\.\d+$/.test(config.etcdVersion)) {
    error('etcdVersion', `"${config.etcdVersion}" is not an etcd 3 release`, 'use "auto" (the etcd minor kubeadm deploys with kubernetesVersion) or vMAJOR.MINOR.PATCH, e.g. "v3.6.17"');
  }

  const domainLabels = config.clusterDomain.split('.');
  if (config.clusterDomain.length > 253 || domainLabels.some((label) => labelProblem(label))) {
    error('clusterDomain', `"${config.clusterDomain}" is not a DNS domain`, `use dot-separated DNS labels (${DNS_LABEL_RULE}), e.g. "${defaultConfig.clusterDomain}"`);
  }

  if (!BINARY_SOURCES.includes(config.binarySource)) error('binarySource', `"${config.binarySource}" is not a binary source`, `use one of ${BINARY_SOURCES.join(', ')}`);
  if (!KEY_ALGORITHMS.includes(config.keyAlgorithm)) error('keyAlgorithm', `"${config.keyAlgorithm}" is not a key algorithm`, `use one of ${KEY_ALGORITHMS.join(', ')}`);

  if (!isPlainObject(config.kubeletOverrides)) {
    error('kubeletOverrides', `${JSON.stringify(config.kubeletOverrides)} is not an object`, 'use an object of KubeletConfiguration fields by worker name ("*": every worker), e.g. { "worker-1": { "maxPods": 50 } }');
  } else {
    const workerNames = new Set(workers(config).map((n) => n.name));
    for (const [name, fields] of Object.entries(config.kubeletOverrides)) {
      if (!isPlainObject(fields)) {
        error(`kubeletOverrides.${name}`, `${JSON.stringify(fields)} is not an object`, 'use an object of KubeletConfiguration fields, e.g. { "maxPods": 50 }');
      } else if (name !== '*' && !workerNames.has(name)) {
        warnings.push({ field: `kubeletOverrides.${name}`, problem: `no worker is named "${name}", so this override changes nothing`, valid: `use "*" or a worker's name: ${[...workerNames].join(', ') || '(there are no workers)'}` });
      }
    }
  }
  errors.push(...machineProblems(config));
  const ingressDomain = config.addons.ingress.domain;
  if (ingressDomain !== '' && (ingressDomain.length > 253 || ingressDomain.split('.').length < 2 || ingressDomain.split('.').some((label) => labelProblem(label)))) {
    error('addons.ingress.domain', `"${ingressDomain}" is not a DNS domain of two labels or more`, `use dot-separated DNS labels (${DNS_LABEL_RULE}): the Ingress serves every name under it, e.g. "${config.clusterName}.test", or "" for that default`);
  }
  if (!hasApiEndpoint(config) && config.addons.metallb.enabled && config.addons.metallb.pool.trim() === '') {
    warnings.push({
      field: 'addons.metallb.pool',
      problem: 'is empty, and a cluster of SSH machines has no Docker network to plan a LoadBalancer pool on, so MetalLB is not installed',
      valid: "name a range of the machines' network that no machine has and no DHCP server hands out, e.g. \"192.168.64.240-192.168.64.250\", or switch MetalLB off (addons.metallb.enabled false)",
    });
  }
  return { errors, warnings };
}

/** Whether IPv4 `address` is inside `cidr` (both well-formed). */
function inCidr(address: string, cidr: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const [base, prefix] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(prefix));
  return Math.floor(toInt(address) / size) === Math.floor(toInt(base) / size);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MACHINE_FIELDS = ['name', 'role', 'address', 'port', 'user', 'key', 'arch'];
const MACHINE_SHAPE = '{ "name": "worker-1", "role": "worker", "address": "192.168.64.21", "user": "root", "key": "~/.ssh/id_ed25519" }';

/** Every problem with `machines`, one per field at fault (its nodes are checked as `nodes` too). */
export function machineProblems(config: ClusterConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const machines = config.machines ?? [];
  if (!Array.isArray(machines)) return [{ field: 'machines', problem: 'is not an array', valid: `use an array of machines like ${MACHINE_SHAPE}` }];
  const addresses = new Map<string, number>();
  const subnet = /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(config.nodeSubnet) ? config.nodeSubnet : undefined;
  machines.forEach((m: unknown, i) => {
    const field = `machines[${i}]`;
    if (!isPlainObject(m)) return void problems.push({ field, problem: 'is not an object', valid: `use an object like ${MACHINE_SHAPE}` });
    const problem = (key: string, what: string, valid: string) => void problems.push({ field: `${field}.${key}`, problem: what, valid });
    for (const key of Object.keys(m)) if (!MACHINE_FIELDS.includes(key)) problem(key, 'is not a machine field', `a machine has ${MACHINE_FIELDS.join(', ')}`);
    if (typeof m.name !== 'string' || labelProblem(m.name)) problem('name', typeof m.name === 'string' ? labelProblem(m.name)! : 'is missing', `the node's name: ${DNS_LABEL_RULE}, e.g. "worker-${i + 1}"`);
    if (m.role !== 'control-plane' && m.role !== 'worker') problem('role', m.role === undefined ? 'is missing' : `${JSON.stringify(m.role)} is not a role`, 'use "control-plane" or "worker"');
    if (typeof m.address !== 'string' || !IPV4.test(m.address)) {
      problem('address', m.address === undefined ? 'is missing' : `${JSON.stringify(m.address)} is not an IPv4 address`, 'use the IPv4 address the machine has on the network its nodes share (it becomes the node IP), e.g. "192.168.64.21"');
    } else if (subnet && !inCidr(m.address, subnet)) {
      problem('address', `${m.address} is outside nodeSubnet ${config.nodeSubnet}`, "set nodeSubnet to the network the machines share (e.g. \"192.168.64.0/24\"): the plan checks it against the service and pod ranges");
    } else if (addresses.has(m.address)) problem('address', `${m.address} is also the address of machines[${addresses.get(m.address)}]`, 'give every machine its own address');
    else addresses.set(m.address, i);
    if (m.port !== undefined && (!Number.isInteger(m.port) || (m.port as number) < 1 || (m.port as number) > 65535)) problem('port', `${JSON.stringify(m.port)} is not a TCP port`, 'use a whole number from 1 to 65535, or leave it out for 22');
    if (typeof m.user !== 'string' || !/^[a-z_][a-z0-9_-]*\$?$/.test(m.user)) problem('user', m.user === undefined ? 'is missing' : `${JSON.stringify(m.user)} is not a user name`, 'use "root" or a user with passwordless sudo');
    if (m.key !== undefined && (typeof m.key !== 'string' || m.key === '')) problem('key', `${JSON.stringify(m.key)} is not a file path`, 'give the path of a private key file, or leave it out to use the SSH agent');
    if (m.arch !== undefined && !(NODE_ARCHES as readonly unknown[]).includes(m.arch)) problem('arch', `${JSON.stringify(m.arch)} is not a node architecture`, `use ${NODE_ARCHES.map((a) => `"${a}"`).join(' or ')} (what \`dpkg --print-architecture\` prints on the machine), or leave it out for the build host's`);
  });
  return problems;
}

/** The etcd release a config runs: its pin, else the one kubeadm pairs with its Kubernetes minor. */
export function etcdVersionOf(config: Pick<ClusterConfig, 'etcdVersion' | 'kubernetesVersion'>): string {
  if (config.etcdVersion !== 'auto') return config.etcdVersion;
  const row = kubeadmImageVersions(config.kubernetesVersion);
  if (!row) throw new Error(`no etcd version recorded for Kubernetes ${config.kubernetesVersion} (checkConfig refuses such a config)`);
  return row.etcd;
}
