// The nodes step: host preflight, base and node images, the cluster network and one container per
// node. `npx tsx tasks.ts nodes` builds all of it; a second run only probes. `clean:nodes` (the CLI's
// clean command on this alias) removes the containers, their volumes and the network, found by label
// (and, through the network's clean, the cluster's context in the user's kubeconfig: tasks/certs/host-kubeconfig.ts).

import { alias, type AnyTarget } from '../../lib/engine/target.ts';
import type { ClusterConfig } from '../config/config.ts';
import { hostPreflightTarget } from '../host/preflight.ts';
import type { IpPlan } from '../net/ip-plan.ts';
import { nodeTarget, type NodeExtras } from './containers.ts';
import { machineInstallTarget, machineTarget } from './machines.ts';
import { baseImageTarget, nodeImageTarget, type BaseImageOptions } from '../images/node-image.ts';
import { networkTarget } from '../net/network.ts';

export type NodesStepOptions = {
  baseImage?: BaseImageOptions;
  /** Per-node container settings, by node name. */
  nodeExtras?: Record<string, NodeExtras>;
  readyTimeoutMs?: number;
};

/**
 * The plan is passed as an object, not as a dependency on `net:plan`: each target takes only its own
 * addresses as inputs, so adding a node (which changes the plan) leaves the other nodes and the network
 * up to date instead of re-running them.
 */
function plannedIp(plan: IpPlan, node: string): string {
  const planned = plan.nodes.find((n) => n.name === node);
  if (!planned) throw new Error(`node ${node} is not in the IP plan`);
  return planned.ip;
}

export function nodesStep(config: ClusterConfig, plan: IpPlan, options: NodesStepOptions = {}) {
  const host = hostPreflightTarget();
  const base = baseImageTarget({ host }, options.baseImage);
  const image = nodeImageTarget({ base });
  const network = networkTarget(config, { host }, plan);
  // A node listed in `machines` is that machine over SSH; the others are containers.
  const machineOf = new Map((config.machines ?? []).map((m) => [m.name, m]));
  const nodes = config.nodes.map((node) =>
    machineOf.has(node.name)
      ? machineTarget(config, node, machineOf.get(node.name)!)
      : nodeTarget(config, node, { image, network }, plannedIp(plan, node.name), { extras: options.nodeExtras?.[node.name], readyTimeoutMs: options.readyTimeoutMs }),
  );
  const containers = nodes.length > machineOf.size;
  // Each machine's install record comes after its preflight and packages passed.
  const installs = config.nodes.flatMap((n, i) => (machineOf.has(n.name) ? [machineInstallTarget(n, machineOf.get(n.name)!, nodes[i]!)] : []));
  /** Node targets by node name, for later steps that work on one node. */
  const byNode = Object.fromEntries(nodes.map((t, i) => [config.nodes[i]!.name, t]));
  const all: AnyTarget[] = [
    host,
    base,
    image,
    network,
    ...nodes,
    ...installs,
    // Machines need no image and no Docker network: with only machines, `nodes` is their targets alone.
    alias('nodes', 'Images, network and every node container up with systemd running; every SSH machine checked and its packages installed', containers ? [image, network, ...nodes, ...installs] : [...nodes, ...installs]),
  ];
  return { host, base, image, network, nodes, byNode, all };
}
