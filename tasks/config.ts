// The cluster config: every tunable of the cluster in one typed place, with defaults.
// Targets declare the fields they read as inputs (`inputs.values`), so changing one field rebuilds
// exactly the targets that read it. Types here are `type` aliases (not interfaces) so they are Json.

import type { Json } from '../lib/target.ts';

/** What a node does in the cluster. Control-plane nodes run etcd and the control plane; workers run pods. */
export type NodeRole = 'control-plane' | 'worker';

/** One machine of the cluster (a Docker container acting as a bare-metal node). */
export type NodeSpec = {
  /** Node name: container hostname, kubelet node name, certificate identity (`system:node:<name>`). */
  name: string;
  role: NodeRole;
};

/**
 * Where the Kubernetes binaries come from (see tasks/binaries): the official release files, a directory
 * on disk, or a build from the k8s.io/kubernetes Go module. `auto` uses the release files when the
 * release host answers and builds from source otherwise, saying which it chose.
 */
export type BinarySource = 'auto' | 'release' | 'dir' | 'go';

/** Key algorithm used when a request config in csr/ does not say otherwise. */
export type KeyAlgorithm = 'ecdsa' | 'rsa';

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
  /** Where the Kubernetes binaries come from. */
  binarySource: BinarySource;
  /** Default key algorithm for certificates (csr/*.json may override per cert). */
  keyAlgorithm: KeyAlgorithm;
  /** Port the apiserver listens on. */
  apiServerPort: number;
  /**
   * KubeletConfiguration fields merged over the rendered kubelet config, by worker name (`*`: every worker),
   * e.g. `{ "worker-2": { "maxPods": 50 } }`. Changing one worker's entry rewrites only that worker's
   * kubelet config and restarts only that kubelet.
   */
  kubeletOverrides: Record<string, Record<string, Json>>;
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
  binarySource: 'auto',
  keyAlgorithm: 'ecdsa',
  apiServerPort: 6443,
  kubeletOverrides: {},
};

export function controlPlanes(config: ClusterConfig): NodeSpec[] {
  return config.nodes.filter((node) => node.role === 'control-plane');
}

export function workers(config: ClusterConfig): NodeSpec[] {
  return config.nodes.filter((node) => node.role === 'worker');
}
