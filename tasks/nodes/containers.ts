// One target per node: a container running systemd as PID 1, with the planned fixed IP on the cluster
// network, labelled with the cluster, its role and a hash of everything it was created from.

import { createHash } from 'node:crypto';
import type Dockerode from 'dockerode';
import { target, type Target } from '../../lib/engine/target.ts';
import { DockerError } from '../../lib/docker/errors.ts';
import { readOnlyView } from '../../lib/node/handle.ts';
import { nodeFleet } from './node-fleet.ts';
import type { ClusterConfig, NodeRole, NodeSpec } from '../config/config.ts';
import type { NodeImageTarget } from '../images/node-image.ts';
import type { NetworkTarget } from '../net/network.ts';
import { CLUSTER_LABEL, KEY_LABEL, NODE_LABEL, PART_LABEL, ROLE_LABEL, containerName } from './labels.ts';
import { inotifyLimitWarning } from '../host/inotify.ts';
import { removeOwnContainer } from './cleanup.ts';

/** What later steps receive for a node: how to reach it (container name, IP) and what it was made from. */
export type NodeContainer = {
  name: string;
  container: string;
  id: string;
  ip: string;
  role: NodeRole;
  image: string;
  key: string;
};

/** Typed by result only (see BaseImageTarget in node-images.ts for why). */
export type NodeTarget = Target<NodeContainer, any>;

/** Per-node container settings beyond the cluster config (part of that node's inputs only). */
export type NodeExtras = {
  /** Memory limit in bytes (HostConfig.Memory); unset = no limit. */
  memoryBytes?: number;
  /** Extra environment variables for PID 1. */
  env?: Record<string, string>;
  /** Extra container labels. */
  labels?: Record<string, string>;
};

/**
 * `auto` tries --privileged and falls back to explicit capabilities when the engine refuses it;
 * HARDER_NODE_PRIVILEGE=privileged|capabilities forces one.
 */
export type PrivilegeChoice = 'auto' | 'privileged' | 'capabilities';

export function privilegeChoice(env: NodeJS.ProcessEnv = process.env): PrivilegeChoice {
  const value = env.HARDER_NODE_PRIVILEGE ?? 'auto';
  if (value === 'auto' || value === 'privileged' || value === 'capabilities') return value;
  throw new Error(`HARDER_NODE_PRIVILEGE must be auto, privileged or capabilities, not "${value}"`);
}

export type NodeTargetOptions = {
  extras?: NodeExtras;
  /** Bound on the wait for systemd to reach running/degraded (default 120 s). */
  readyTimeoutMs?: number;
};

/** The volume holding /var/lib/containerd: nested overlayfs on the container's own overlay root fails. */
export function containerdVolumeName(container: string): string {
  return `${container}-containerd`;
}

/** The container spec minus privilege fields (added by createPrivilegedContainer for the chosen mode). */
export function nodeContainerSpec(input: {
  clusterName: string;
  node: NodeSpec;
  ip: string;
  image: string;
  network: string;
  extras: NodeExtras;
}): Dockerode.ContainerCreateOptions {
  const name = containerName(input.clusterName, input.node.name);
  const env = Object.entries(input.extras.env ?? {}).map(([k, v]) => `${k}=${v}`);
  return {
    name,
    Hostname: input.node.name,
    Image: input.image,
    Env: env,
    Labels: {
      ...input.extras.labels,
      [CLUSTER_LABEL]: input.clusterName,
      [ROLE_LABEL]: input.node.role,
      [NODE_LABEL]: input.node.name,
      [PART_LABEL]: 'node',
    },
    HostConfig: {
      NetworkMode: input.network,
      // Nodes come back after a dockerd or host restart, with the same fixed IP.
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      // systemd wants a fresh /run and /run/lock each boot; /tmp is cleared like on a real machine.
      Tmpfs: { '/run': 'rw,nosuid,nodev,exec,mode=755', '/run/lock': 'rw,nosuid,nodev,noexec', '/tmp': 'rw,nosuid,nodev,exec,mode=1777' },
      Binds: ['/lib/modules:/lib/modules:ro'],
      Mounts: [{ Type: 'volume', Source: containerdVolumeName(name), Target: '/var/lib/containerd' }],
      // The node sees its own cgroup subtree as the root, so systemd and the kubelet manage only it.
      CgroupnsMode: 'private',
      ...(input.extras.memoryBytes ? { Memory: input.extras.memoryBytes, MemorySwap: input.extras.memoryBytes } : {}),
    } as Dockerode.HostConfig,
    NetworkingConfig: {
      EndpointsConfig: { [input.network]: { IPAMConfig: { IPv4Address: input.ip } } },
    },
  };
}

/** Hash of everything that defines the container; stored as its label and in the result. */
export function nodeSpecKey(spec: Dockerode.ContainerCreateOptions, imageId: string, networkId: string, privilege: PrivilegeChoice): string {
  return createHash('sha256').update(JSON.stringify({ spec, imageId, networkId, privilege })).digest('hex').slice(0, 32);
}

/** A node container running for longer than this has finished booting (systemd takes seconds here). */
const BOOTED_AFTER_MS = 120_000;

function ipOn(info: Dockerode.ContainerInspectInfo, network: string): string | undefined {
  return info.NetworkSettings.Networks?.[network]?.IPAMConfig?.IPv4Address ?? info.NetworkSettings.Networks?.[network]?.IPAddress;
}

/**
 * Why the container a node's result describes is not what the build left (undefined when it is).
 * Pure, so the probe cannot repair anything by accident; a stopped or paused container is drift.
 */
export function nodeContainerDrift(result: NodeContainer, info: Dockerode.ContainerInspectInfo | undefined, network: string): string | undefined {
  if (!info) return `container ${result.container} does not exist`;
  if (info.Id !== result.id) return `container ${result.container} was replaced (ID ${info.Id.slice(0, 12)}, built ${result.id.slice(0, 12)})`;
  if (info.Config.Labels?.[KEY_LABEL] !== result.key) return `container ${result.container} has another key label`;
  if (info.State.Paused) return `container ${result.container} is paused`;
  if (!info.State.Running) return `container ${result.container} is stopped (${info.State.Status || 'not running'})`;
  const ip = ipOn(info, network);
  if (ip !== result.ip) return `container ${result.container} has IP ${ip ?? 'none'} on ${network}, planned ${result.ip}`;
  return undefined;
}

export function nodeTarget(
  config: ClusterConfig,
  node: NodeSpec,
  deps: { image: NodeImageTarget; network: NetworkTarget },
  /** The node's address from the IP plan (an input: a new address recreates the container). */
  ip: string,
  options: NodeTargetOptions = {},
): NodeTarget {
  const extras = options.extras ?? {};
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const container = containerName(config.clusterName, node.name);
  return target({
    name: `node:${node.name}`,
    description: `Node container ${container} (${node.role}) with systemd running`,
    deps: { image: deps.image, network: deps.network },
    inputs: { values: { clusterName: config.clusterName, node, ip, extras }, env: ['HARDER_NODE_PRIVILEGE'] },
    build: async (ctx): Promise<NodeContainer> => {
      const { connectDocker, dockerAddress } = await import('../../lib/docker/connect.ts');
      const { inspectContainer, removeContainer, ensureVolume, createPrivilegedContainer } = await import('../../lib/docker/containers.ts');
      const { waitForSystemd } = await import('../../lib/docker/systemd-ready.ts');
      const fleet = nodeFleet.of(ctx);
      // Waiting for systemd only reads; what a start or a new container changed is dropped from the fleet's reads.
      const booted = () => (fleet.changed(container), waitForSystemd(readOnlyView(fleet.node(container)), { timeoutMs: readyTimeoutMs, signal: ctx.signal }));
      const docker = await connectDocker();
      const privilege = privilegeChoice();
      const spec = nodeContainerSpec({ clusterName: config.clusterName, node, ip: ip, image: ctx.deps.image.ref, network: ctx.deps.network.name, extras });
      const key = nodeSpecKey(spec, ctx.deps.image.id, ctx.deps.network.id, privilege);
      spec.Labels![KEY_LABEL] = key;
      const result = (id: string): NodeContainer => ({ name: node.name, container, id, ip: ip, role: node.role, image: ctx.deps.image.ref, key });

      const existing = await inspectContainer(docker, container);
      if (existing && existing.Config.Labels?.[KEY_LABEL] === key && ipOn(existing, ctx.deps.network.name) === ip && ctx.reason !== 'forced') {
        // Same inputs: keep the container (and everything the later steps put in it). A stopped or
        // paused node is repaired here, never by the probe (probes only read: --dry-run and --graph run them).
        if (existing.State.Paused) {
          ctx.log(`unpausing ${container}`);
          await docker.getContainer(container).unpause();
        } else if (!existing.State.Running) {
          ctx.log(`starting ${container} (it was ${existing.State.Status})`);
          await docker.getContainer(container).start();
        }
        await booted();
        return result(existing.Id);
      }
      if (existing) {
        if (existing.Config.Labels?.[CLUSTER_LABEL] !== config.clusterName) {
          throw new DockerError(`container ${container} exists and does not belong to cluster ${config.clusterName}`, `remove it with \`docker rm -f ${container}\` or choose another clusterName`);
        }
        ctx.log(`recreating ${container}: ${ctx.reason}`);
        await removeContainer(docker, container);
      }
      // Said where a node is created: that is when the host's inotify budget is spent.
      const inotify = inotifyLimitWarning();
      if (inotify) ctx.log(inotify);
      await ensureVolume(docker, containerdVolumeName(container), { [CLUSTER_LABEL]: config.clusterName, [NODE_LABEL]: node.name, [PART_LABEL]: 'containerd-volume' });
      const started = performance.now();
      const { id, mode } = await createPrivilegedContainer(docker, {
        spec,
        mode: privilege === 'auto' ? undefined : privilege,
        log: ctx.log,
        engineKey: dockerAddress(),
      });
      const state = await booted();
      ctx.log(`${container} at ${ip}: systemd ${state} after ${Math.round(performance.now() - started)} ms (${mode})`);
      return result(id);
    },
    // Read-only, like every probe (`--dry-run` and `--graph` run probes and promise to change nothing):
    // a stopped or paused node is reported, and the build starts it.
    probe: async (result, actx) => {
      const { inspectContainer } = await import('../../lib/docker/containers.ts');
      const { waitForSystemd } = await import('../../lib/docker/systemd-ready.ts');
      // The light client inspects and execs: no dockerode load on a no-op run.
      const info = await inspectContainer(undefined, result.container);
      const drift = nodeContainerDrift(result, info, config.clusterName);
      if (drift) return drift;
      if (Date.now() - Date.parse(info!.State.StartedAt) > BOOTED_AFTER_MS) {
        // Running for longer than any boot takes: systemd is past start-up, so skip the exec that asks
        // (execs are what a no-op run waits for). Unit states are checked by the steps that run units.
        return undefined;
      }
      // A node that was just (re)started (docker restart, dockerd restart): wait for its boot (only reads).
      await waitForSystemd(readOnlyView(nodeFleet.of(actx).node(result.container)), { timeoutMs: readyTimeoutMs });
      return undefined;
    },
    clean: (_result, ctx) => removeOwnContainer(container, config.clusterName, ctx.log, [containerdVolumeName(container)]),
  });
}
