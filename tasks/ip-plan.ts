// The IP plan: every address in the cluster, as a pure function of the config. Nothing learns an
// address by asking Docker afterwards; containers are created with the address planned here.

import { target } from '../lib/target.ts';
import type { ClusterConfig, NodeRole } from './config.ts';

// Results are `type` aliases, not interfaces: TypeScript gives interfaces no index signature, so an
// interface is not assignable to the engine's Json type.
export type PlannedNode = {
  name: string;
  role: NodeRole;
  /** The node's fixed address on the cluster network. */
  ip: string;
  /** The worker's slice of the pod range (its CNI bridge subnet); null for nodes that run no pods. */
  podCidr: string | null;
};

export type IpPlan = {
  subnet: string;
  /** The network's gateway (the host side of the Docker bridge). */
  gateway: string;
  nodes: PlannedNode[];
  /** First address of the service range: the ClusterIP of the `kubernetes` Service. */
  kubernetesServiceIp: string;
  clusterDnsIp: string;
  serviceCidr: string;
  clusterCidr: string;
  /** Where in-cluster clients reach the API: the first control plane's address and port. */
  apiServerUrl: string;
};

export class IpPlanError extends Error {}

export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new IpPlanError(`"${text}" is not an IPv4 address`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export interface Cidr {
  base: number;
  prefix: number;
  size: number;
}

export function parseCidr(text: string): Cidr {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!match || Number(match[2]) > 32) throw new IpPlanError(`"${text}" is not an IPv4 CIDR like 10.0.0.0/24`);
  const prefix = Number(match[2]);
  const size = 2 ** (32 - prefix);
  const address = parseIpv4(match[1]!);
  if (address % size !== 0) throw new IpPlanError(`"${text}" has host bits set; did you mean ${formatIpv4(address - (address % size))}/${prefix}?`);
  return { base: address, prefix, size };
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

function hostInSubnet(subnet: Cidr, host: number, what: string, cidrText: string): string {
  if (host <= 0 || host >= subnet.size - 1) {
    throw new IpPlanError(`${what}: host number ${host} does not fit in ${cidrText}`);
  }
  return formatIpv4(subnet.base + host);
}

/** Computes the plan; throws IpPlanError naming the field when the config cannot be laid out. */
export function planIps(config: ClusterConfig): IpPlan {
  const subnet = parseCidr(config.nodeSubnet);
  const services = parseCidr(config.serviceCidr);
  const pods = parseCidr(config.clusterCidr);
  for (const [a, b] of [
    ['nodeSubnet', 'serviceCidr'],
    ['nodeSubnet', 'clusterCidr'],
    ['serviceCidr', 'clusterCidr'],
  ] as const) {
    if (cidrsOverlap(config[a], config[b])) {
      throw new IpPlanError(`${a} ${config[a]} overlaps ${b} ${config[b]}: choose ranges that do not overlap`);
    }
  }
  const dns = parseIpv4(config.clusterDnsIp);
  if (dns < services.base || dns >= services.base + services.size) {
    throw new IpPlanError(`clusterDnsIp ${config.clusterDnsIp} is outside serviceCidr ${config.serviceCidr}`);
  }
  if (config.podCidrPrefix < pods.prefix || config.podCidrPrefix > 30) {
    throw new IpPlanError(`podCidrPrefix /${config.podCidrPrefix} must be between /${pods.prefix} (clusterCidr) and /30`);
  }
  const podSliceSize = 2 ** (32 - config.podCidrPrefix);
  const seen = new Set<string>();
  let controlPlaneIndex = 0;
  let workerIndex = 0;
  const nodes = config.nodes.map((node): PlannedNode => {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(node.name)) {
      throw new IpPlanError(`node name "${node.name}" is not a valid hostname (lowercase letters, digits, '-')`);
    }
    if (seen.has(node.name)) throw new IpPlanError(`node name "${node.name}" appears twice`);
    seen.add(node.name);
    if (node.role === 'control-plane') {
      const ip = hostInSubnet(subnet, config.controlPlaneIpStart + controlPlaneIndex++, node.name, config.nodeSubnet);
      return { name: node.name, role: node.role, ip, podCidr: null };
    }
    const slice = workerIndex;
    const ip = hostInSubnet(subnet, config.workerIpStart + workerIndex++, node.name, config.nodeSubnet);
    if ((slice + 1) * podSliceSize > pods.size) {
      throw new IpPlanError(`clusterCidr ${config.clusterCidr} has no /${config.podCidrPrefix} left for ${node.name}`);
    }
    return { name: node.name, role: node.role, ip, podCidr: `${formatIpv4(pods.base + slice * podSliceSize)}/${config.podCidrPrefix}` };
  });
  const ips = new Set<string>();
  for (const node of nodes) {
    if (ips.has(node.ip)) throw new IpPlanError(`two nodes get ${node.ip}: move controlPlaneIpStart or workerIpStart apart`);
    ips.add(node.ip);
  }
  const firstControlPlane = nodes.find((n) => n.role === 'control-plane');
  if (!firstControlPlane) throw new IpPlanError('the config has no control-plane node');
  return {
    subnet: config.nodeSubnet,
    gateway: formatIpv4(subnet.base + 1),
    nodes,
    kubernetesServiceIp: formatIpv4(services.base + 1),
    clusterDnsIp: config.clusterDnsIp,
    serviceCidr: config.serviceCidr,
    clusterCidr: config.clusterCidr,
    apiServerUrl: `https://${firstControlPlane.ip}:${config.apiServerPort}`,
  };
}

/** The plan as a target, so every address-dependent target depends on it and rebuilds when it changes. */
export function ipPlanTarget(config: ClusterConfig) {
  return target({
    name: 'net:plan',
    description: 'Plan every address: node IPs on the cluster network, pod CIDR per worker, service IPs',
    deps: {},
    inputs: {
      values: {
        nodes: config.nodes,
        nodeSubnet: config.nodeSubnet,
        controlPlaneIpStart: config.controlPlaneIpStart,
        workerIpStart: config.workerIpStart,
        serviceCidr: config.serviceCidr,
        clusterCidr: config.clusterCidr,
        podCidrPrefix: config.podCidrPrefix,
        clusterDnsIp: config.clusterDnsIp,
        apiServerPort: config.apiServerPort,
      },
    },
    build: async (): Promise<IpPlan> => planIps(config),
  });
}
