// The cluster's Docker network: a user-defined bridge named after the cluster, with the subnet and
// gateway of the IP plan, labelled with the cluster; refuses to take over or overlap anything else.

import { target, type AnyTarget, type Target } from '../../lib/engine/target.ts';
import type { ClusterConfig } from '../config/config.ts';
import { poolAddresses, type IpPlan } from './ip-plan.ts';
import { CLUSTER_LABEL, PART_LABEL } from '../nodes/labels.ts';

/** `reserved`: whether Docker's IPAM holds back the LoadBalancer pool (false: a network made before the pool, kept under its nodes). */
export type ClusterNetwork = { name: string; id: string; subnet: string; gateway: string; reserved: boolean };

/** What `net:network` builds on: the host is ready (its result is not read). The plan's subnet and gateway are inputs. */
export type NetworkDeps = { host: AnyTarget };

/** The `net:network` target, with its real result and dependency types (nodes read `ctx.deps.network.id`). */
export type NetworkTarget = Target<ClusterNetwork, NetworkDeps>;

export function networkTarget(config: ClusterConfig, deps: NetworkDeps, plan: Pick<IpPlan, 'subnet' | 'gateway' | 'loadBalancerPool'>): NetworkTarget {
  const labels = { [CLUSTER_LABEL]: config.clusterName, [PART_LABEL]: 'network' };
  // The LoadBalancer pool, held back from Docker's IPAM (see IpPlan.loadBalancerPool).
  const reserved = plan.loadBalancerPool ? poolAddresses(plan.loadBalancerPool) : [];
  const pool = plan.loadBalancerPool ? `${plan.loadBalancerPool.first}-${plan.loadBalancerPool.last}` : '';
  return target({
    name: 'net:network',
    description: `Docker bridge network "${config.clusterName}" with the planned subnet and gateway${pool ? `, the LoadBalancer pool ${pool} reserved` : ''}`,
    deps: { host: deps.host },
    // Not the node names: a node that left the config is removed by its own target, remove:node:<name>
    // (tasks/nodes/removal.ts), never as a side effect of this one.
    inputs: { values: { clusterName: config.clusterName, subnet: plan.subnet, gateway: plan.gateway, ...(pool ? { reserved: pool } : {}) } },
    build: async (ctx): Promise<ClusterNetwork> => {
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const { ensureNetwork } = await import('../../lib/docker/networks.ts');
      const { removeContainer, inspectContainer } = await import('../../lib/docker/containers.ts');
      const docker = await connectDocker();
      return ensureNetwork(
        docker,
        { name: config.clusterName, subnet: plan.subnet, gateway: plan.gateway, labels, reserved },
        {
          log: ctx.log,
          // Docker cannot add a reservation to a network: one with nodes on it is kept, and says how to get it.
          onUnreserved: (missing, members) =>
            ctx.log(
              `warning: network ${config.clusterName} was created before the LoadBalancer pool ${pool} was reserved on it (${missing.length} of ${reserved.length} addresses not held back) and ${members} container${members === 1 ? ' is' : 's are'} attached, so it is kept as it is: a container started on it by hand without --ip could get a pool address. clean:nodes --yes then cluster recreates it with the reservation`,
            ),
          // Only our own nodes can be attached to our network; they hold addresses of the old subnet
          // and are recreated by their targets (whose inputs include the network) right after.
          onStaleMembers: async (ids) => {
            for (const id of ids) {
              const info = await inspectContainer(docker, id);
              if (info?.Config.Labels?.[CLUSTER_LABEL] !== config.clusterName) {
                throw new Error(`container ${info?.Name ?? id} of another owner is attached to network ${config.clusterName}; detach it first`);
              }
              ctx.log(`removing ${info.Name.replace(/^\//, '')}: its address is from the old subnet`);
              await removeContainer(docker, id);
            }
          },
        },
      );
    },
    probe: async (result) => {
      const { inspectNetwork } = await import('../../lib/docker/networks.ts');
      const network = await inspectNetwork(undefined, result.name);
      if (!network) return `network ${result.name} no longer exists`;
      if (network.Id !== result.id) return `network ${result.name} was recreated by someone else`;
      return undefined;
    },
    // Sweeps by label, not by the stored result: containers, volumes and the network of this cluster go
    // even when output/ was deleted or a node left the config. Nodes are cleaned before (dependents first).
    // With the cluster gone, so goes its context from the user's kubeconfig (unless the spec opts out of it).
    clean: async (_result, ctx) => {
      const { removeClusterObjects } = await import('../nodes/cleanup.ts');
      await removeClusterObjects(config.clusterName, ctx.log);
      if (config.mergeKubeconfig) await (await import('../certs/host-kubeconfig.ts')).removeHostContext(config, ctx);
    },
  });
}
