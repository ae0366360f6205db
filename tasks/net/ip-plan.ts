// The IP plan: every address in the cluster, as a pure function of the config. Nothing learns an
// address by asking Docker afterwards; containers are created with the address planned here.

import { target } from '../../lib/engine/target.ts';
import { balancedApi, controlPlanes, hasApiEndpoint, defaultConfig, workers, type ClusterConfig, type ConfigProblem, type NodeRole } from '../config/config.ts';

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
  /**
   * The API endpoint container's address (`<clusterName>-api`, HAProxy in front of every apiserver).
   * Fixed like a node's: every container on the cluster network is created with its planned address,
   * so Docker's IPAM has none of them to hand out. Null for a cluster of SSH machines (no endpoint).
   */
  apiEndpointIp: string | null;
  /**
   * Where in-cluster clients (kubelets, kube-proxy) reach the API: the endpoint's load balancer when
   * the config balances (more than one control plane, or apiEndpoint 'load-balancer'), else the first
   * control plane's address and port.
   */
  apiServerUrl: string;
  /**
   * The LoadBalancer address pool (MetalLB, addons.metallb.pool): a slice of nodeSubnet that no node and
   * not the API endpoint has, reserved on the Docker network (`net:network`: one IPAM auxiliary address
   * per pool address), so Docker's IPAM never hands one out, not even to a container started by hand on
   * the network. Planned whether MetalLB is on or off, so switching it never changes the network. Null for
   * a cluster of SSH machines that names no pool (there is no Docker network to reserve it on).
   */
  loadBalancerPool: LoadBalancerPool | null;
};

/** A contiguous range of addresses: `first`..`last` inclusive, as MetalLB's IPAddressPool writes it (`first-last`). */
export type LoadBalancerPool = { first: string; last: string; size: number };

/** Every address of a pool, in order. */
export function poolAddresses(pool: LoadBalancerPool): string[] {
  const first = parseIpv4(pool.first);
  return Array.from({ length: pool.size }, (_, i) => formatIpv4(first + i));
}

/** Thrown by planIps for a config that cannot be laid out (the CLI checks ipPlanProblems up front). */
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

/** The CIDR, or what is wrong with it and what would be valid. */
function checkCidr(text: string, example: string): Cidr | { problem: string; valid: string } {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  let address: number | undefined;
  try {
    if (match && Number(match[2]) <= 32) address = parseIpv4(match[1]!);
  } catch {
    // not an address: reported below
  }
  if (address === undefined) return { problem: `"${text}" is not an IPv4 CIDR`, valid: `use an IPv4 network address and prefix length, e.g. ${example}` };
  const prefix = Number(match![2]);
  const size = 2 ** (32 - prefix);
  if (address % size !== 0) {
    return { problem: `${text} has host bits set (${match![1]} is not where a /${prefix} starts)`, valid: `use ${formatIpv4(address - (address % size))}/${prefix}` };
  }
  return { base: address, prefix, size };
}

export function parseCidr(text: string): Cidr {
  const cidr = checkCidr(text, '10.0.0.0/24');
  if ('problem' in cidr) throw new IpPlanError(`${cidr.problem}; ${cidr.valid}`);
  return cidr;
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

const range = (cidr: Cidr, first: number, count: number): string =>
  count === 1 ? formatIpv4(cidr.base + first) : `${formatIpv4(cidr.base + first)}-${formatIpv4(cidr.base + first + count - 1)}`;

const POOL_FIELD = 'addons.metallb.pool';
/** The fields the node layout comes from. */
const LAYOUT_FIELDS = new Set(['nodeSubnet', 'controlPlaneIpStart', 'workerIpStart', 'apiEndpointHost']);
/** How many addresses the planned pool has at most: the top 16 of nodeSubnet, its broadcast address left out. */
const PLANNED_POOL_BLOCK = 16;

/**
 * The pool's first and last address as numbers: addons.metallb.pool as written (a CIDR or `first-last`), or,
 * when it is empty, planned: the top PLANNED_POOL_BLOCK addresses of the subnet but its broadcast address
 * (`.240-.254` of a /24). Undefined when it is empty and nothing can be planned (SSH machines); a string
 * when it is malformed.
 */
function poolRange(config: ClusterConfig, subnet: Cidr | undefined): { first: number; last: number; planned: boolean } | string | undefined {
  const text = config.addons.metallb.pool.trim();
  if (text === '') {
    if (!hasApiEndpoint(config) || !subnet) return undefined;
    const block = Math.min(PLANNED_POOL_BLOCK, subnet.size);
    return { first: subnet.base + subnet.size - block, last: subnet.base + subnet.size - 2, planned: true };
  }
  const dash = /^([\d.]+)\s*-\s*([\d.]+)$/.exec(text);
  try {
    if (dash) {
      const [first, last] = [parseIpv4(dash[1]!), parseIpv4(dash[2]!)];
      return last < first ? `${text} ends before it starts` : { first, last, planned: false };
    }
    if (text.includes('/')) {
      const cidr = checkCidr(text, '10.240.0.240/28');
      if ('problem' in cidr) return cidr.problem;
      return { first: cidr.base, last: cidr.base + cidr.size - 1, planned: false };
    }
  } catch (error) {
    return (error as Error).message;
  }
  return `"${text}" is neither a CIDR nor a range first-last`;
}

/**
 * Everything that stops the config's addresses from being laid out, all of it, each naming the field
 * at fault and what would be valid: malformed or overlapping ranges, a DNS IP outside the service range
 * or on a reserved address, node addresses past the subnet, on its gateway or on each other, too
 * little pod range for the workers. Empty when planIps will succeed.
 */
export function ipPlanProblems(config: ClusterConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (field: string, what: string, valid: string): void => void problems.push({ field, problem: what, valid });
  const cidr = (field: 'nodeSubnet' | 'serviceCidr' | 'clusterCidr'): Cidr | undefined => {
    const checked = checkCidr(config[field], defaultConfig[field]);
    if (!('problem' in checked)) return checked;
    problem(field, checked.problem, checked.valid);
    return undefined;
  };
  const subnet = cidr('nodeSubnet');
  const services = cidr('serviceCidr');
  const pods = cidr('clusterCidr');

  const parsed = { nodeSubnet: subnet, serviceCidr: services, clusterCidr: pods };
  for (const [a, b] of [
    ['nodeSubnet', 'serviceCidr'],
    ['nodeSubnet', 'clusterCidr'],
    ['serviceCidr', 'clusterCidr'],
  ] as const) {
    const x = parsed[a];
    const y = parsed[b];
    if (x && y && x.base < y.base + y.size && y.base < x.base + x.size) {
      problem(a, `${config[a]} overlaps ${b} ${config[b]}`, `use ranges that share no address (nodeSubnet, serviceCidr and clusterCidr default to ${defaultConfig.nodeSubnet}, ${defaultConfig.serviceCidr} and ${defaultConfig.clusterCidr})`);
    }
  }

  // kube-apiserver refuses a larger IPv4 service range ("the mask must be >= 12").
  if (services && services.prefix < 12) problem('serviceCidr', `${config.serviceCidr} is larger than kube-apiserver accepts`, 'use a prefix length of /12 or longer, e.g. /24');

  if (services) {
    // The first address is the `kubernetes` Service's; the network and broadcast addresses are never allocated.
    const last = services.base + services.size - 1;
    const example = formatIpv4(services.base + (services.size > 16 ? 10 : 2));
    const valid = `use an address inside serviceCidr ${config.serviceCidr} other than its first two and its last, e.g. ${example}`;
    let dns: number | undefined;
    try {
      dns = parseIpv4(config.clusterDnsIp);
    } catch {
      problem('clusterDnsIp', `"${config.clusterDnsIp}" is not an IPv4 address`, valid);
    }
    if (dns !== undefined) {
      if (dns < services.base || dns > last) problem('clusterDnsIp', `${config.clusterDnsIp} is outside serviceCidr ${config.serviceCidr}`, valid);
      else if (dns === services.base) problem('clusterDnsIp', `${config.clusterDnsIp} is the network address of serviceCidr ${config.serviceCidr}`, valid);
      else if (dns === services.base + 1) problem('clusterDnsIp', `${config.clusterDnsIp} is the \`kubernetes\` Service's address (the first of serviceCidr ${config.serviceCidr})`, valid);
      else if (dns === last) problem('clusterDnsIp', `${config.clusterDnsIp} is the broadcast address of serviceCidr ${config.serviceCidr}`, valid);
    }
  }

  const workerCount = workers(config).length;
  if (pods) {
    const p = config.podCidrPrefix;
    if (!Number.isInteger(p) || p < pods.prefix || p > 30) {
      problem('podCidrPrefix', `${p} is not a prefix length between /${pods.prefix} (clusterCidr ${config.clusterCidr}) and /30`, pods.prefix > 30 ? `use a larger clusterCidr, e.g. ${defaultConfig.clusterCidr}` : pods.prefix === 30 ? 'use 30' : `use a whole number from ${pods.prefix} to 30, e.g. ${Math.max(pods.prefix, defaultConfig.podCidrPrefix)}`);
    } else if (workerCount > 2 ** (p - pods.prefix)) {
      const fits = 2 ** (p - pods.prefix);
      const needed = pods.prefix + Math.ceil(Math.log2(workerCount));
      problem(
        'clusterCidr',
        `${config.clusterCidr} holds ${fits} /${p} pod range${fits === 1 ? '' : 's'}, one per worker, and there are ${workerCount} workers`,
        needed <= 30 ? `use a larger clusterCidr, or a podCidrPrefix of ${needed} or more` : 'use a larger clusterCidr',
      );
    }
  }

  if (subnet) {
    // Host numbers 2..size-2: 0 is the network, 1 the gateway (the host side of the Docker bridge), size-1 broadcast.
    const lastHost = subnet.size - 2;
    const blocks: { field: 'controlPlaneIpStart' | 'workerIpStart' | 'apiEndpointHost'; what: string; start: number; count: number }[] = [
      { field: 'controlPlaneIpStart', what: 'control planes', start: config.controlPlaneIpStart, count: controlPlanes(config).length },
      { field: 'workerIpStart', what: 'workers', start: config.workerIpStart, count: workerCount },
    ];
    const endpoint = { field: 'apiEndpointHost' as const, what: 'API endpoint', start: config.apiEndpointHost, count: 1 };
    const placed: typeof blocks = [];
    const room = Math.max(0, lastHost - 1);
    const wanted = config.nodes.length + (hasApiEndpoint(config) ? 1 : 0);
    if (wanted > room) {
      problem('nodeSubnet', `${config.nodeSubnet} has room for ${room} address${room === 1 ? '' : 'es'} and there are ${config.nodes.length} nodes and the API endpoint`, `use a larger nodeSubnet, e.g. ${defaultConfig.nodeSubnet}`);
    }
    for (const block of hasApiEndpoint(config) ? [...blocks, endpoint] : blocks) {
      if (block.count === 0 || wanted > room) continue;
      const maxStart = lastHost - block.count + 1;
      if (!Number.isInteger(block.start) || block.start < 2 || block.start > maxStart) {
        const where = block.start === 1 ? `1 is the gateway of nodeSubnet ${config.nodeSubnet}` : `${block.start} does not leave ${block.count} address${block.count === 1 ? '' : 'es'} of nodeSubnet ${config.nodeSubnet} (hosts 2-${lastHost}) for the ${block.what}`;
        problem(block.field, where, `use a whole number from 2 to ${maxStart}`);
      } else {
        placed.push(block);
      }
    }
    const overlaps = (x: (typeof blocks)[number], y: (typeof blocks)[number]) => x.start < y.start + y.count && y.start < x.start + x.count;
    const [a, b] = placed.filter((p) => p !== endpoint);
    if (a && b && overlaps(a, b)) {
      problem(
        'workerIpStart',
        `the workers' addresses ${range(subnet, b.start, b.count)} overlap the control planes' ${range(subnet, a.start, a.count)} (controlPlaneIpStart ${a.start})`,
        `move workerIpStart or controlPlaneIpStart so the two ranges do not overlap, e.g. workerIpStart ${a.start + a.count}`,
      );
    }
    if (placed.includes(endpoint)) {
      let free: number | undefined;
      for (let host = 2; host <= lastHost && free === undefined; host++) if (!placed.some((p) => p !== endpoint && host >= p.start && host < p.start + p.count)) free = host;
      for (const block of placed.filter((p) => p !== endpoint && overlaps(p, endpoint))) {
        problem(
          'apiEndpointHost',
          `the API endpoint's address ${range(subnet, endpoint.start, 1)} is one of the ${block.what}' ${range(subnet, block.start, block.count)} (${block.field} ${block.start})`,
          `use a host number no node has${free === undefined ? '' : `, e.g. apiEndpointHost ${free}`}`,
        );
      }
    }
  }
  // The pool is checked against a node layout that holds: with the subnet or a node block at fault, those are the problems to fix first.
  if (!problems.some((p) => LAYOUT_FIELDS.has(p.field))) problems.push(...layPool(config, subnet).problems);
  return problems;
}

/**
 * The LoadBalancer pool, laid out and checked: malformed, outside nodeSubnet, on its network, gateway or
 * broadcast address, on a node's or the API endpoint's address are problems naming addons.metallb.pool and
 * a pool that would do. A planned pool (the field empty) that meets a node while MetalLB is off is no
 * problem: there is then no pool (nothing reserved). Empty for SSH machines: nothing to plan on, and
 * MetalLB stays off (checkConfigFields warns).
 */
function layPool(config: ClusterConfig, subnet: Cidr | undefined): { pool: { first: number; last: number } | null; problems: ConfigProblem[] } {
  const none = (problems: ConfigProblem[] = []) => ({ pool: null, problems });
  if (!subnet) return none();
  const range = poolRange(config, subnet);
  const suggestion = `${formatIpv4(subnet.base + subnet.size - PLANNED_POOL_BLOCK)}-${formatIpv4(subnet.base + subnet.size - 2)}`;
  const at = (problem: string, valid = `use addresses of nodeSubnet ${config.nodeSubnet} that no node has, as a CIDR or first-last, e.g. "${suggestion}", or leave it empty to have it planned`) =>
    none([{ field: POOL_FIELD, problem, valid }]);
  if (range === undefined) return none();
  if (typeof range === 'string') return at(range);
  const shown = `${formatIpv4(range.first)}-${formatIpv4(range.last)}`;
  const written = config.addons.metallb.pool.trim();
  const what = range.planned ? `the planned pool ${shown}` : written.includes('/') ? `${written} (${shown})` : written;
  if (range.first < subnet.base || range.last > subnet.base + subnet.size - 1) return at(`${what} is not inside nodeSubnet ${config.nodeSubnet}`);
  const reserved: [number, string][] = [
    [subnet.base, 'the network address'],
    [subnet.base + 1, 'the gateway'],
    [subnet.base + subnet.size - 1, 'the broadcast address'],
    ...heldAddresses(config, subnet),
  ];
  const hits = reserved.filter(([ip]) => ip >= range.first && ip <= range.last).sort(([x], [y]) => x - y);
  if (hits.length === 0) return { pool: { first: range.first, last: range.last }, problems: [] };
  if (range.planned && !config.addons.metallb.enabled) return none();
  const held = `${what} holds ${hits.map(([ip, name]) => `${formatIpv4(ip)} (${name})`).join(', ')} of nodeSubnet ${config.nodeSubnet}`;
  return range.planned
    ? at(held, `set addons.metallb.pool to addresses of nodeSubnet ${config.nodeSubnet} that no node has (the planned pool is its top ${PLANNED_POOL_BLOCK - 1}), move the nodes below it (controlPlaneIpStart, workerIpStart, apiEndpointHost), or switch MetalLB off (addons.metallb.enabled false)`)
    : at(held);
}

/** The addresses of nodes and the API endpoint, by what holds them, for the pool check (the plan's own layout). */
function heldAddresses(config: ClusterConfig, subnet: Cidr): [number, string][] {
  const held: [number, string][] = [];
  const machineIp = new Map((config.machines ?? []).map((m) => [m.name, m.address]));
  let cp = 0;
  let wk = 0;
  for (const node of config.nodes) {
    const own = machineIp.get(node.name);
    let ip: number;
    try {
      ip = own !== undefined ? parseIpv4(own) : subnet.base + (node.role === 'control-plane' ? config.controlPlaneIpStart + cp : config.workerIpStart + wk);
    } catch {
      continue; // a malformed machine address is machineProblems' to report
    }
    if (node.role === 'control-plane') cp++;
    else wk++;
    held.push([ip, `node ${node.name}`]);
  }
  if (hasApiEndpoint(config)) held.push([subnet.base + config.apiEndpointHost, 'the API endpoint']);
  return held;
}

/** Computes the plan; throws IpPlanError naming the field when the config cannot be laid out (see ipPlanProblems). */
export function planIps(config: ClusterConfig): IpPlan {
  const problems = ipPlanProblems(config);
  if (problems.length) throw new IpPlanError(problems.map((p) => `${p.field}: ${p.problem}; ${p.valid}`).join('\n'));
  const subnet = parseCidr(config.nodeSubnet);
  const services = parseCidr(config.serviceCidr);
  const pods = parseCidr(config.clusterCidr);
  const podSliceSize = 2 ** (32 - config.podCidrPrefix);
  let controlPlaneIndex = 0;
  let workerIndex = 0;
  // A machine reached over SSH keeps the address it has; a container gets the next one of its role.
  const machineIp = new Map((config.machines ?? []).map((m) => [m.name, m.address]));
  const nodes = config.nodes.map((node): PlannedNode => {
    if (node.role === 'control-plane') {
      const ip = machineIp.get(node.name) ?? formatIpv4(subnet.base + config.controlPlaneIpStart + controlPlaneIndex++);
      return { name: node.name, role: node.role, ip, podCidr: null };
    }
    const slice = workerIndex++;
    const ip = machineIp.get(node.name) ?? formatIpv4(subnet.base + config.workerIpStart + slice);
    return { name: node.name, role: node.role, ip, podCidr: `${formatIpv4(pods.base + slice * podSliceSize)}/${config.podCidrPrefix}` };
  });
  const firstControlPlane = nodes.find((n) => n.role === 'control-plane');
  if (!firstControlPlane) throw new IpPlanError('nodes: the config has no control-plane node');
  const apiEndpointIp = hasApiEndpoint(config) ? formatIpv4(subnet.base + config.apiEndpointHost) : null;
  const { pool } = layPool(config, subnet);
  return {
    subnet: config.nodeSubnet,
    gateway: formatIpv4(subnet.base + 1),
    nodes,
    kubernetesServiceIp: formatIpv4(services.base + 1),
    clusterDnsIp: config.clusterDnsIp,
    serviceCidr: config.serviceCidr,
    clusterCidr: config.clusterCidr,
    apiEndpointIp,
    apiServerUrl: `https://${balancedApi(config) && apiEndpointIp ? apiEndpointIp : firstControlPlane.ip}:${config.apiServerPort}`,
    loadBalancerPool: pool ? { first: formatIpv4(pool.first), last: formatIpv4(pool.last), size: pool.last - pool.first + 1 } : null,
  };
}

/**
 * The plan as a target, so every address-dependent target depends on it and rebuilds when it changes.
 * `plan` is the one computed for this graph (tasks/index.ts: `planIps(config)`, once); the target returns
 * that very object, so what `net:plan` records and what every other step was built from cannot differ.
 * Its key comes from the config fields the plan is computed from.
 */
export function ipPlanTarget(config: ClusterConfig, plan: IpPlan) {
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
        apiEndpointHost: config.apiEndpointHost,
        apiEndpoint: config.apiEndpoint,
        loadBalancerPool: config.addons.metallb.pool,
        // Machines' own addresses are node IPs; absent when there are none, so a container cluster's key is as before.
        ...(config.machines?.length ? { machineAddresses: config.machines.map((m) => [m.name, m.address]) } : {}),
      },
    },
    build: async (): Promise<IpPlan> => plan,
  });
}

/** The `net:plan` target: its result is the graph's IpPlan. */
export type PlanTarget = ReturnType<typeof ipPlanTarget>;
