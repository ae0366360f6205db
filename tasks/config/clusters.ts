// Several clusters side by side in one checkout, as `kind create cluster --name` makes them: `--name NAME`
// selects a cluster, and everything that belongs to one cluster follows from its name and its state directory.
//
// One rule for where a cluster lives: the default cluster (the spec's clusterName, `harder` unless the spec
// file says otherwise) keeps `output/`, so every path the README, the tutorial and the tests name stays valid;
// any other name gets `output/clusters/<name>/`: its journal, lock, recorded spec (spec.json), PKI,
// kubeconfigs and encryption config. Nested under output/ rather than beside it so that one git-ignored
// directory still holds all state, and nothing of the engine sweeps output/ as a whole (it removes only the
// temps of files it knows), so the default cluster never touches a named one's files. The name is a DNS
// label, so it can never climb out of output/clusters/.
//
// Docker objects follow the name already: the network is `<name>`, containers `<name>-<node>`, and every
// object carries the label harder.cluster=<name> that clean and the probes go by (tasks/nodes/labels.ts).
//
// Node subnets must not overlap (each is a bridge with a route on the host), so a named cluster whose spec
// does not set nodeSubnet gets the first free /24 of ALLOCATION_POOL, recorded in its spec.json so later runs
// never move it. Pod and service ranges need not differ between clusters: the host gets no route for them
// (only `10.240.x.0/24 dev br-…` for each node network, checked with `ip route` beside a running cluster),
// the per-worker pod routes and kube-proxy's rules live in the nodes' own network namespaces
// (tasks/cluster/render/node-system.ts), so two clusters' 10.200.0.0/16 never meet. Bridged packets do
// pass the host's iptables (bridge-nf-call-iptables is 1), where Docker accepts traffic within one bridge
// whatever its conntrack state, so equal pod addresses on two bridges do not interfere (kind gives every
// cluster the same pod range too).

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterConfig } from './config.ts';
import { cidrsOverlap, formatIpv4, parseCidr } from '../net/ip-plan.ts';

/** The default cluster's state directory, relative to the project root. */
export const STATE_DIR = 'output';
/** Where the other clusters' state directories are, inside the default's. */
export const CLUSTERS_DIR = 'clusters';

/** A cluster's state directory relative to its base (the default's state directory): '' for the default cluster. */
function subdir(name: string, defaultName: string): string {
  return name === defaultName ? '' : join(CLUSTERS_DIR, name);
}

/** The state directory of cluster `name` relative to the project root: `output` or `output/clusters/<name>`. */
export function clusterStateDir(name: string, defaultName: string): string {
  return join(STATE_DIR, subdir(name, defaultName));
}

/** The state directory of cluster `name` under `base`, the default cluster's (absolute) state directory. */
export function stateDirUnder(base: string, name: string, defaultName: string): string {
  return join(base, subdir(name, defaultName));
}

/**
 * The one place that says which cluster a config is and where its files are: its name (Docker network,
 * container prefix, kubeconfig cluster) and its state directory relative to the project root (`output` for
 * the default cluster, `output/clusters/<name>` for another). Targets put their files under `stateDir`.
 */
export function clusterOf(config: Pick<ClusterConfig, 'clusterName' | 'stateDir'>): { name: string; stateDir: string } {
  return { name: config.clusterName, stateDir: config.stateDir ?? STATE_DIR };
}

/** A Docker network as allocation and the overlap check see it (injected as data in tests). */
export type NetworkFacts = { name: string; subnets: string[]; /** its harder.cluster label, if any */ cluster?: string };

/**
 * Every Docker network with its IPv4 subnets, through the light engine client (no dockerode load: this runs
 * at configure time); undefined when no engine answers (a fresh machine before host:preflight starts dockerd).
 */
export async function listDockerNetworks(): Promise<NetworkFacts[] | undefined> {
  const { engineEndpoint, engineJson } = await import('../../lib/docker/engine-api.ts');
  const { subnetsOf } = await import('../../lib/docker/networks.ts');
  const { CLUSTER_LABEL } = await import('../nodes/labels.ts');
  if (!engineEndpoint()) return undefined;
  type Listed = Parameters<typeof subnetsOf>[0] & { Name: string; Labels?: Record<string, string> | null };
  let listed: Listed[];
  try {
    listed = await engineJson<Listed[]>('GET', '/networks', 'listing Docker networks', undefined, AbortSignal.timeout(5000));
  } catch {
    return undefined;
  }
  return listed.map((n) => ({
    name: n.Name,
    subnets: subnetsOf(n),
    ...(n.Labels?.[CLUSTER_LABEL] ? { cluster: n.Labels[CLUSTER_LABEL] } : {}),
  }));
}

/** Another cluster of this checkout, as its recorded spec (spec.json) says. */
export type RecordedCluster = { name: string; nodeSubnet: string; where: string };

/** The node subnet a spec.json records (the last run's spec, else its allocation); undefined if none can be read. */
function recordedSubnet(path: string): string | undefined {
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as { spec?: { nodeSubnet?: unknown }; allocated?: { nodeSubnet?: unknown } };
    const subnet = data.spec?.nodeSubnet ?? data.allocated?.nodeSubnet;
    return typeof subnet === 'string' ? subnet : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The clusters recorded under `base` (the default's state directory) other than `except`: the named ones in
 * clusters/<name>/spec.json, and the default cluster's own spec.json when it has one (`defaultName`).
 * `shownBase` is how messages name `base` (`output`).
 */
export function recordedClusters(base: string, defaultName: string, except: string, shownBase = STATE_DIR): RecordedCluster[] {
  const found: RecordedCluster[] = [];
  const add = (name: string, dir: string, shown: string): void => {
    if (name === except) return;
    const nodeSubnet = recordedSubnet(join(dir, 'spec.json'));
    if (nodeSubnet) found.push({ name, nodeSubnet, where: `${shown}/spec.json` });
  };
  add(defaultName, base, shownBase);
  let names: string[] = [];
  try {
    names = readdirSync(join(base, CLUSTERS_DIR)).sort();
  } catch {
    // no named cluster yet
  }
  for (const name of names) add(name, join(base, CLUSTERS_DIR, name), `${shownBase}/${CLUSTERS_DIR}/${name}`);
  return found;
}

/** Where allocated node subnets come from: /24s counting up from 10.240.0.0, the default cluster's. */
export const ALLOCATION_POOL = '10.240.0.0/16';
const ALLOCATION_PREFIX = 24;

/**
 * The API endpoint's host port of a cluster whose node subnet was allocated: 6443 plus the /24's index in
 * ALLOCATION_POOL (10.240.N.0/24 → 6443 + N), so the default cluster's 10.240.0.0/24 keeps 6443 and no two
 * allocated clusters share a port, with nothing more to record: the port follows the recorded subnet.
 */
export function hostPortForSubnet(subnet: string): number {
  return 6443 + (parseCidr(subnet).base - parseCidr(ALLOCATION_POOL).base) / 2 ** (32 - ALLOCATION_PREFIX);
}

/** A range allocation must keep clear of, and what it is (for the message when the pool is full). */
export type Reserved = { subnet: string; what: string };

const validCidr = (text: string): boolean => {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
};

/**
 * The first /24 of ALLOCATION_POOL that overlaps none of `reserved`, or undefined when every one does.
 * `prefer` (the cluster's own Docker network's subnet, when its record was lost) wins when it is itself free,
 * so a cluster whose spec.json was deleted keeps its network instead of having it recreated.
 */
export function allocateSubnet(reserved: readonly Reserved[], prefer?: string): string | undefined {
  const taken = reserved.filter((r) => validCidr(r.subnet));
  const free = (candidate: string): boolean => !taken.some((r) => cidrsOverlap(r.subnet, candidate));
  if (prefer && validCidr(prefer) && parseCidr(prefer).prefix === ALLOCATION_PREFIX && cidrsOverlap(prefer, ALLOCATION_POOL) && free(prefer)) return prefer;
  const pool = parseCidr(ALLOCATION_POOL);
  const step = 2 ** (32 - ALLOCATION_PREFIX);
  for (let base = pool.base; base < pool.base + pool.size; base += step) {
    const candidate = `${formatIpv4(base)}/${ALLOCATION_PREFIX}`;
    if (free(candidate)) return candidate;
  }
  return undefined;
}

/**
 * What an explicitly chosen node subnet overlaps among the Docker networks of everything but this cluster:
 * one phrase per clash, naming the other cluster (by its label) or the network, e.g.
 * `cluster harder-b (its Docker network harder-b has 10.240.1.0/24)`. Empty when it is free.
 */
export function subnetClashes(subnet: string, networks: readonly NetworkFacts[], ownName: string): string[] {
  if (!validCidr(subnet)) return [];
  const clashes: string[] = [];
  for (const network of networks) {
    if (network.name === ownName || network.cluster === ownName) continue;
    for (const other of network.subnets) {
      if (!validCidr(other) || !cidrsOverlap(other, subnet)) continue;
      clashes.push(network.cluster ? `cluster ${network.cluster} (its Docker network ${network.name} has ${other})` : `Docker network ${network.name} (${other})`);
    }
  }
  return clashes;
}

/** The default cluster's state directory, from cluster `name`'s (the inverse of stateDirUnder). */
export function baseOfStateDir(stateDir: string, name: string, defaultName: string): string {
  return name === defaultName ? stateDir : join(stateDir, '..', '..');
}
