// `node:<name>` for a machine reached over SSH instead of a container: the preflight (machine-preflight.ts),
// then the Debian packages the node image bakes in, installed with apt where missing. Its result has the
// shape of a container node's, so every later target (files, binaries, units, add-ons) is the same; its
// probe reads one file per package from the node's batched read, so a no-op run adds no round trip.

import { createHash } from 'node:crypto';
import { target } from '../../lib/engine/target.ts';
import { declareNodeReads } from '../../lib/node/fleet.ts';
import type { NodeHandle, NodeState } from '../../lib/node/handle.ts';
import { MachineError } from '../../lib/node/machine-error.ts';
import type { ClusterConfig, MachineSpec, NodeSpec } from '../config/config.ts';
import type { NodeContainer, NodeTarget } from './containers.ts';
import { machinePreflight } from './machine-preflight.ts';
import { binDir, controlPlanePaths, etcdPaths, nodePaths, unitPath, workerPaths } from '../cluster/layout.ts';
import { declareMachine, machineAddress, nodeFleet } from './node-fleet.ts';

/**
 * The packages of the node image (tasks/images/node/Dockerfile) a node needs, each with a file it installs
 * (Debian 12's paths): the probe's evidence that the package is there.
 */
export const NODE_PACKAGES: readonly { name: string; file: string }[] = [
  { name: 'containerd', file: '/usr/bin/containerd' },
  { name: 'runc', file: '/usr/sbin/runc' },
  { name: 'containernetworking-plugins', file: '/usr/lib/cni/bridge' },
  { name: 'iptables', file: '/usr/sbin/xtables-nft-multi' },
  { name: 'iproute2', file: '/sbin/ip' },
  { name: 'conntrack', file: '/usr/sbin/conntrack' },
  { name: 'socat', file: '/usr/bin/socat' },
  { name: 'ipset', file: '/usr/sbin/ipset' },
  { name: 'ebtables', file: '/usr/sbin/ebtables-legacy' },
  { name: 'ethtool', file: '/sbin/ethtool' },
  { name: 'kmod', file: '/bin/kmod' },
  { name: 'procps', file: '/bin/ps' },
  { name: 'util-linux', file: '/usr/bin/nsenter' },
  { name: 'mount', file: '/bin/mount' },
  { name: 'ca-certificates', file: '/usr/sbin/update-ca-certificates' },
];

/** The probe's decision on the batched read: the packages whose file is missing (empty: all there). */
export function missingPackages(state: NodeState, packages: readonly { name: string; file: string }[] = NODE_PACKAGES): string[] {
  return packages.filter((p) => !state.stamps.has(p.file)).map((p) => p.name);
}

/** Packages dpkg does not report as installed, asked in one command. */
async function uninstalled(node: NodeHandle, names: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const { stdout } = await node.exec(['dpkg-query', '-W', '-f=${Package} ${db:Status-Status}\\n', ...names], { allowFailure: true, readOnly: true, signal });
  const installed = new Set([...stdout.toString('utf8').matchAll(/^(\S+) installed$/gm)].map((m) => m[1]!));
  return names.filter((n) => !installed.has(n));
}

/**
 * Installs `missing` with apt (as Debian's own tools would, non-interactively), then leaves containerd
 * enabled, as the node image does.
 */
export async function installPackages(node: NodeHandle, missing: readonly string[], log: (line: string) => void, signal?: AbortSignal): Promise<void> {
  if (missing.length === 0) return;
  log(`${node.name}: installing ${missing.join(', ')} with apt`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await node.exec(['apt-get', 'update', '-q'], { env, signal });
  await node.exec(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing], { env, signal });
  if (missing.includes('containerd')) await node.systemctl('enable', '--now', 'containerd.service');
}

/** The units the cluster step writes (tasks/cluster): what a machine's clean stops, disables and removes. */
export const HARDER_UNITS = ['kubelet', 'kube-proxy', 'kubelet-prepare', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd', 'pod-routes', 'node-sysctl', 'containerd'];

/**
 * What the cluster step puts on a node, from its layout table: files and directories it alone writes.
 * Debian's own files among the paths (the CNI plugins in /usr/lib/cni) are left out, so the clean never
 * removes a package's file.
 */
export function harderPaths(): string[] {
  const tables: Record<string, string>[] = [controlPlanePaths, etcdPaths, workerPaths, nodePaths];
  const paths = new Set<string>();
  // Directories that other software shares (CNI configs) are not removed, only harder's files in them.
  const shared = new Set<string>([workerPaths.cniConfDir]);
  for (const table of tables) for (const path of Object.values(table)) if (/^\/(etc|var\/lib)\//.test(path) && !shared.has(path)) paths.add(path);
  for (const bin of BINARIES) paths.add(`${binDir}/${bin}`);
  for (const unit of HARDER_UNITS) paths.add(unitPath(unit));
  return [...paths].sort();
}

/** The binaries the cluster step installs into binDir. */
const BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubelet', 'kube-proxy', 'kubectl', 'crictl', 'etcd', 'etcdctl'];

/**
 * Stops and disables harder's units, removes pods, unmounts what the kubelet mounted, removes harder's
 * files (arguments: units…, `--`, paths…), and restarts containerd under Debian's own unit. Packages
 * stay: they may have been there before, and other software may use them.
 */
const UNINSTALL_SCRIPT = [
  'units=(); while [ "$1" != -- ]; do units+=("$1.service"); shift; done; shift',
  'systemctl disable --now kubelet.service kube-proxy.service 2>/dev/null',
  'command -v crictl >/dev/null && crictl --runtime-endpoint unix:///run/containerd/containerd.sock rmp -af >/dev/null 2>&1',
  'systemctl disable --now "${units[@]}" 2>/dev/null',
  'findmnt -rno TARGET | grep -E "^/var/lib/kubelet/" | sort -r | xargs -r umount 2>/dev/null',
  'rm -rf -- "$@"',
  'rmdir --ignore-fail-on-non-empty /etc/etcd /var/lib/kubelet /var/lib/kube-proxy /etc/kubernetes/config /etc/kubernetes 2>/dev/null',
  'systemctl daemon-reload',
  // containerd is Debian's package: back to its own unit and default config, enabled as the package leaves it.
  'systemctl enable --now containerd.service 2>/dev/null',
  'exit 0',
].join('\n');

/**
 * The record that harder installs things on a machine (made once its node target passed): no work to build, and precious, so `clean:nodes`
 * asks for --yes before its clean stops and removes what harder put there (and nothing else: no disk is
 * wiped, no package removed, the machine stays reachable).
 */
export function machineInstallTarget(node: NodeSpec, machine: MachineSpec, nodeTarget: NodeTarget) {
  const address = machineAddress(machine);
  const t = target({
    name: `machine:${node.name}`,
    description: `What harder installs on ${address}: clean:nodes --yes stops and removes it (only it)`,
    deps: { node: nodeTarget },
    inputs: { values: { node: node.name } },
    precious: true,
    build: async () => ({ node: node.name }),
    clean: async (_result, ctx) => {
      const handle = nodeFleet.of(ctx).node(address);
      await handle.exec(['bash', '-c', UNINSTALL_SCRIPT, 'uninstall', ...HARDER_UNITS, '--', ...harderPaths()]);
      ctx.log(`${node.name}: stopped ${HARDER_UNITS.join(', ')} and removed harder's files (packages and everything else left as they were)`);
    },
  });
  return declareMachine(t, address, sshMachine(node, machine));
}

function sshMachine(node: NodeSpec, machine: MachineSpec) {
  return { name: node.name, host: machine.address, port: machine.port, user: machine.user, key: machine.key };
}

export function machineTarget(config: ClusterConfig, node: NodeSpec, machine: MachineSpec): NodeTarget {
  const address = machineAddress(machine);
  const packages = NODE_PACKAGES.map((p) => p.name);
  const t = target({
    name: `node:${node.name}`,
    description: `Machine ${address} (${node.role}) over SSH: preflight, then the node packages`,
    deps: {},
    // The key file is how to log in, not what the node is: changing it rebuilds nothing.
    // arch only where the spec gives one: a machine of the build host's keeps the key it always had.
    inputs: { values: { clusterName: config.clusterName, node, address: machine.address, port: machine.port ?? 22, user: machine.user, packages, ...(machine.arch ? { arch: machine.arch } : {}) } },
    build: async (ctx): Promise<NodeContainer> => {
      const handle = nodeFleet.of(ctx).node(address);
      // Nothing is changed before the whole preflight passed.
      const facts = await machinePreflight(handle, { user: machine.user, address: `${machine.address}:${machine.port ?? 22}` }, ctx.signal, { expected: machine.arch });
      ctx.log(`${node.name}: ${facts.os} ${facts.arch}, cgroup ${facts.cgroup}`);
      await installPackages(handle, await uninstalled(handle, packages, ctx.signal), ctx.log, ctx.signal);
      const still = await uninstalled(handle, packages, ctx.signal);
      if (still.length > 0) {
        throw new MachineError(node.name, `${machine.address}:${machine.port ?? 22}`, `${still.join(', ')} still not installed after apt-get install`, 'look at `apt-get install` on the machine: a held package or a missing bookworm source');
      }
      const key = createHash('sha256').update(JSON.stringify({ address, packages, facts })).digest('hex').slice(0, 32);
      return { name: node.name, container: address, id: `ssh:${address}`, ip: machine.address, role: node.role, image: `${facts.os} ${facts.arch}`, key };
    },
    // Read-only, from the batched read: a machine cannot be recreated (no `docker restart` repair), so the
    // probe reports a removed package and the build installs it again. An unreachable machine fails the read, naming it.
    probe: async (result, actx) => {
      const missing = missingPackages(await nodeFleet.of(actx).declared(node.name, result.container));
      return missing.length > 0 ? `${missing.join(', ')} not installed on ${node.name}` : undefined;
    },
  });
  declareMachine(t, address, sshMachine(node, machine));
  return declareNodeReads(t, { node: node.name, binaries: NODE_PACKAGES.map((p) => p.file) });
}
