// Removing a node that left the config, as its own destructive target `remove:node:<name>`: cordon and drain (evictions, so PodDisruptionBudgets hold), delete the Node, stop its kubelet and kube-proxy, then remove the container and its volume; on success the node's records are forgotten. A control plane leaves etcd first (`etcd:<name>:member-remove`, tasks/cluster/etcd.ts), one at a time.

import { target, type AnyTarget, type DepMap, type Json, type Target } from '../../lib/engine/target.ts';
import type { BinaryResult } from '../binaries/index.ts';
import type { RecordedTargets } from '../../lib/engine/state.ts';
import type { ClusterConfig } from '../config/config.ts';
import type { NodeContainer } from './containers.ts';
import { CLUSTER_LABEL, containerName } from './labels.ts';
import { nodeFleet } from './node-fleet.ts';

/** How long a drain may take before the removal fails (node left cordoned, container kept). */
export const DRAIN_TIMEOUT_S = 300;

/** The records that belong to one node: `node:<n>` and the per-node targets (`install:<n>:…`, `unit:<n>:…`, `ready:<n>:…`, `load:<image>@<n>`). */
export function nodeRecordNames(names: readonly string[], node: string): string[] {
  return names.filter((name) => {
    if (name === `node:${node}`) return true;
    const colon = name.indexOf(':');
    if (colon === -1) return false;
    const rest = name.slice(colon + 1);
    if (rest.startsWith(`${node}:`)) return true;
    return name.startsWith('load:') && name.endsWith(`@${node}`);
  });
}

/** Nodes with a recorded `node:<name>` that the config no longer has, with what their record says. */
export function removedNodes(config: ClusterConfig, recorded: RecordedTargets): { name: string; previous: NodeContainer | undefined; records: string[] }[] {
  const wanted = new Set(config.nodes.map((n) => n.name));
  const names = recorded.names();
  const out: { name: string; previous: NodeContainer | undefined; records: string[] }[] = [];
  for (const name of names) {
    if (!name.startsWith('node:')) continue;
    const node = name.slice('node:'.length);
    if (!node || wanted.has(node)) continue;
    const previous = recorded.result(name) as NodeContainer | undefined;
    out.push({ name: node, previous: previous && typeof previous === 'object' ? previous : undefined, records: nodeRecordNames(names, node) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export type RemovalDeps = {
  /** The built kubectl. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  kubectl: Target<BinaryResult, any>;
  /** The admin kubeconfig target (its file is kubeconfigPath(config, 'admin')). */
  adminKubeconfig: AnyTarget;
  /** The API answers (drain and delete go through it). */
  apiserverReady: AnyTarget;
  /**
   * For a control plane that left: its `etcd:<name>:member-remove` target, ordered after `previous` (the
   * removal before it, so control planes leave one at a time). The node's own removal comes after it.
   */
  memberRemoval: (node: { name: string; ip: string; container: string }, previous: AnyTarget | undefined) => AnyTarget;
};

/**
 * One `remove:node:<name>` target per recorded node that left the config; for a control plane, first its
 * `etcd:<name>:member-remove`. Control planes leave one at a time, the last in name order first.
 */
export function nodeRemovalTargets(config: ClusterConfig, recorded: RecordedTargets | undefined, deps: RemovalDeps, options: { drainTimeoutS?: number } = {}): AnyTarget[] {
  if (!recorded) return [];
  const drain = options.drainTimeoutS ?? DRAIN_TIMEOUT_S;
  const removed = removedNodes(config, recorded);
  const out: AnyTarget[] = removed.filter((n) => n.previous?.role !== 'control-plane').map((node) => removalTarget(config, node, deps, drain));
  let previous: AnyTarget | undefined;
  for (const node of removed.filter((n) => n.previous?.role === 'control-plane').reverse()) {
    const container = node.previous!.container ?? containerName(config.clusterName, node.name);
    const member = deps.memberRemoval({ name: node.name, ip: node.previous!.ip, container }, previous);
    const removal = removalTarget(config, node, deps, drain, member);
    out.push(member, removal);
    previous = removal;
  }
  return out;
}

function removalTarget(config: ClusterConfig, node: { name: string; previous: NodeContainer | undefined; records: string[] }, deps: RemovalDeps, drainTimeoutS: number, member?: AnyTarget): AnyTarget {
  const container = node.previous?.container ?? containerName(config.clusterName, node.name);
  const name = `remove:node:${node.name}`;
  const what = `${container} (node ${node.name})`;
  const previous: Json = node.previous ? { container, id: node.previous.id, ip: node.previous.ip, role: node.previous.role } : { container };
  const controlPlane = node.previous?.role === 'control-plane';
  return target({
    name,
    description: controlPlane
      ? `Removes ${what}, once out of etcd and the API endpoint: remove the container and its volume`
      : `Removes ${what}: cordon, drain (PodDisruptionBudgets respected), delete the Node, stop kubelet and kube-proxy, remove the container and its volume`,
    deps: { kubectl: deps.kubectl, admin: deps.adminKubeconfig, apiserver: deps.apiserverReady, ...(member ? { member } : {}) },
    inputs: { values: { clusterName: config.clusterName, node: node.name, previous, drainTimeoutS } },
    destructive: what,
    build: async (ctx): Promise<{ removed: string; node: string }> => {
      const { kubectlRunner, drainNode } = await import('../cluster/kubectl.ts');
      const { ClusterError } = await import('../cluster/errors.ts');
      const { kubeconfigPath } = await import('../certs/kubeconfig.ts');
      const { rootPath } = await import('../cluster/node-targets.ts');
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const { inspectContainer, removeContainer, removeVolume } = await import('../../lib/docker/containers.ts');
      const { containerdVolumeName } = await import('./containers.ts');
      const kubectlPath = rootPath(ctx.root, ctx.deps.kubectl.path);
      const kubectl = kubectlRunner(kubectlPath, rootPath(ctx.root, kubeconfigPath(config, 'admin')));
      const docker = await connectDocker();
      const info = await inspectContainer(docker, container);
      if (info && info.Config.Labels?.[CLUSTER_LABEL] !== config.clusterName) {
        throw new ClusterError(`container ${container} is not labelled ${CLUSTER_LABEL}=${config.clusterName}: not removing it`, 'remove it yourself if it is yours');
      }
      const registered = (await kubectl(['get', 'node', node.name, '--ignore-not-found', '-o', 'name'], { signal: ctx.signal })).stdout.trim() !== '';
      if (registered) {
        ctx.log(`cordoning ${node.name}`);
        await kubectl(['cordon', node.name], { signal: ctx.signal });
        if (info?.State.Running) {
          ctx.log(`draining ${node.name} (evictions, at most ${drainTimeoutS} s)`);
          const failed = await drainNode(kubectl, node.name, drainTimeoutS, ctx.signal);
          if (failed) {
            throw new ClusterError(
              `draining ${node.name} did not finish within ${drainTimeoutS} s (kubectl drain exited ${failed.exitCode}); ${node.name} is left cordoned and ${container} is kept:\n${failed.last}`,
              `see what blocks the evictions (kubectl get pdb -A; kubectl get pods -A -o wide --field-selector spec.nodeName=${node.name}), then run again; or put ${node.name} back in the config and \`kubectl uncordon ${node.name}\``,
            );
          }
        } else {
          // No container (or stopped): nothing runs there to drain; deleting the Node lets the pod GC delete its pods.
          ctx.log(`${container} is not running: no drain, the Node's pods go with it`);
        }
        ctx.log(`deleting Node ${node.name}`);
        await kubectl(['delete', 'node', node.name, '--ignore-not-found', '--wait=true'], { signal: ctx.signal, timeoutMs: 120_000 });
      }
      if (info?.State.Running) {
        ctx.log(`stopping kubelet and kube-proxy on ${container}`);
        await nodeFleet.of(ctx).node(container).exec(['systemctl', 'stop', 'kubelet', 'kube-proxy'], { allowFailure: true });
      }
      if (info && (await removeContainer(docker, info.Id))) ctx.log(`removed container ${container}`);
      if (await removeVolume(docker, containerdVolumeName(container))) ctx.log(`removed volume ${containerdVolumeName(container)}`);
      ctx.forget?.([...node.records, name]);
      return { removed: container, node: node.name };
    },
  });
}
