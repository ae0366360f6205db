// The API endpoint container `<clusterName>-api`: HAProxy on the cluster network at the planned address,
// its port published on the host's 127.0.0.1 (the admin kubeconfig's server). Not a Kubernetes node:
// no systemd, no privileges; labelled with the cluster so `clean:nodes` sweeps it with the nodes.

import { createHash } from 'node:crypto';
import type Dockerode from 'dockerode';
import { target, type Target } from '../../lib/engine/target.ts';
import { DockerError } from '../../lib/docker/errors.ts';
import type { ClusterConfig } from '../config/config.ts';
import type { NetworkTarget } from '../net/network.ts';
import type { EndpointImageTarget } from '../images/endpoint-image.ts';
import { apiEndpointContainer, CLUSTER_LABEL, KEY_LABEL, PART_LABEL } from '../nodes/labels.ts';
import { removeOwnContainer } from '../nodes/cleanup.ts';

export type EndpointContainer = { container: string; id: string; ip: string; hostPort: number; port: number; key: string };
export type EndpointContainerTarget = Target<EndpointContainer, any>;

export const ENDPOINT_PART = 'api-endpoint';

/** The container spec: image, planned address, the published port, labels. */
export function endpointContainerSpec(input: { clusterName: string; image: string; network: string; ip: string; port: number; hostPort: number }): Dockerode.ContainerCreateOptions {
  const port = `${input.port}/tcp`;
  return {
    name: apiEndpointContainer(input.clusterName),
    Hostname: 'api',
    Image: input.image,
    Labels: { [CLUSTER_LABEL]: input.clusterName, [PART_LABEL]: ENDPOINT_PART },
    ExposedPorts: { [port]: {} },
    HostConfig: {
      NetworkMode: input.network,
      // Loopback only: the API is not offered to the host's other interfaces.
      PortBindings: { [port]: [{ HostIp: '127.0.0.1', HostPort: String(input.hostPort) }] },
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
    },
    NetworkingConfig: { EndpointsConfig: { [input.network]: { IPAMConfig: { IPv4Address: input.ip } } } },
  };
}

/** Hash of everything the container is made from; its label, so a changed input recreates it. */
export function endpointSpecKey(spec: Dockerode.ContainerCreateOptions, imageId: string, networkId: string): string {
  return createHash('sha256').update(JSON.stringify({ spec, imageId, networkId })).digest('hex').slice(0, 32);
}

/** The host port the container publishes for `port`, as Docker reports it. */
function publishedPort(info: Dockerode.ContainerInspectInfo, port: number): string | undefined {
  return info.HostConfig.PortBindings?.[`${port}/tcp`]?.[0]?.HostPort;
}

/** Why the container a result describes is not what the build left (undefined when it is). Pure. */
export function endpointDrift(result: EndpointContainer, info: Dockerode.ContainerInspectInfo | undefined, network: string): string | undefined {
  if (!info) return `container ${result.container} does not exist`;
  if (info.Id !== result.id) return `container ${result.container} was replaced (ID ${info.Id.slice(0, 12)}, built ${result.id.slice(0, 12)})`;
  if (info.Config.Labels?.[KEY_LABEL] !== result.key) return `container ${result.container} has another key label`;
  if (info.State.Paused) return `container ${result.container} is paused`;
  if (!info.State.Running) return `container ${result.container} is stopped (${info.State.Status || 'not running'})`;
  const ip = info.NetworkSettings.Networks?.[network]?.IPAddress;
  if (ip !== result.ip) return `container ${result.container} has IP ${ip || 'none'} on ${network}, planned ${result.ip}`;
  if (publishedPort(info, result.port) !== String(result.hostPort)) return `container ${result.container} does not publish 127.0.0.1:${result.hostPort}`;
  return undefined;
}

/**
 * The other running container that publishes `hostPort`, if any: one clear error instead of Docker's
 * "port is already allocated" after the old container is gone.
 */
async function portHolder(docker: Dockerode, hostPort: number, own: string): Promise<string | undefined> {
  const running = await docker.listContainers();
  const holder = running.find((c) => !c.Names.includes(`/${own}`) && c.Ports.some((p) => p.PublicPort === hostPort && p.Type === 'tcp'));
  if (!holder) return undefined;
  const cluster = holder.Labels?.[CLUSTER_LABEL];
  return `${holder.Names[0]?.replace(/^\//, '') ?? holder.Id.slice(0, 12)}${cluster ? ` (cluster ${cluster})` : ''}`;
}

/** True when nothing on the host listens on 127.0.0.1:`port` (we can bind it ourselves, and let go at once). */
async function hostPortFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

const portHint = (hostPort: number) =>
  `give this cluster another apiHostPort in its spec (harder.config.ts or the --config JSON, e.g. "apiHostPort": ${hostPort + 1}), or stop what holds ${hostPort}`;

export function endpointContainerTarget(config: ClusterConfig, ip: string, deps: { image: EndpointImageTarget; network: NetworkTarget }): EndpointContainerTarget {
  const container = apiEndpointContainer(config.clusterName);
  const hostPort = config.apiHostPort;
  const port = config.apiServerPort;
  return target({
    name: 'endpoint:container',
    description: `API endpoint container ${container} (HAProxy) at ${ip}, published on 127.0.0.1:${hostPort}`,
    deps: { image: deps.image, network: deps.network },
    inputs: { values: { clusterName: config.clusterName, ip, port, hostPort } },
    build: async (ctx): Promise<EndpointContainer> => {
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const { inspectContainer, removeContainer } = await import('../../lib/docker/containers.ts');
      const { engineMessage } = await import('../../lib/docker/errors.ts');
      const docker = await connectDocker();
      const spec = endpointContainerSpec({ clusterName: config.clusterName, image: ctx.deps.image.ref, network: ctx.deps.network.name, ip: ip, port, hostPort });
      const key = endpointSpecKey(spec, ctx.deps.image.id, ctx.deps.network.id);
      spec.Labels![KEY_LABEL] = key;
      const result = (id: string): EndpointContainer => ({ container, id, ip: ip, hostPort, port, key });

      const existing = await inspectContainer(docker, container);
      if (existing && existing.Config.Labels?.[KEY_LABEL] === key && ctx.reason !== 'forced') {
        // Same inputs: keep it (its config file too). A stopped or paused one is started here, not by the probe.
        if (existing.State.Paused) {
          ctx.log(`unpausing ${container}`);
          await docker.getContainer(container).unpause();
        } else if (!existing.State.Running) {
          const holder = await portHolder(docker, hostPort, container);
          if (holder) throw new DockerError(`${container} cannot start: 127.0.0.1:${hostPort} is already published by ${holder}`, portHint(hostPort));
          ctx.log(`starting ${container} (it was ${existing.State.Status})`);
          await docker.getContainer(container).start();
        }
        return result(existing.Id);
      }
      if (existing && existing.Config.Labels?.[CLUSTER_LABEL] !== config.clusterName) {
        throw new DockerError(`container ${container} exists and does not belong to cluster ${config.clusterName}`, `remove it with \`docker rm -f ${container}\` or choose another clusterName`);
      }
      // Before the old container goes: a refused port leaves the cluster's way in as it was.
      const holder = await portHolder(docker, hostPort, container);
      if (holder) throw new DockerError(`127.0.0.1:${hostPort} (apiHostPort) is already published by ${holder}`, portHint(hostPort));
      const ownsPort = existing?.State.Running && publishedPort(existing, port) === String(hostPort);
      if (!ownsPort && !(await hostPortFree(hostPort))) {
        throw new DockerError(`127.0.0.1:${hostPort} (apiHostPort) is taken by a program on the host`, `${portHint(hostPort)}; \`ss -ltnp 'sport = :${hostPort}'\` names it`);
      }
      if (existing) {
        ctx.log(`recreating ${container}: ${ctx.reason}`);
        await removeContainer(docker, container);
      }
      let created: Dockerode.Container;
      try {
        created = await docker.createContainer(spec);
      } catch (error) {
        throw new DockerError(`creating container ${container} failed: ${engineMessage(error)}`, undefined, { cause: error });
      }
      try {
        await created.start();
      } catch (error) {
        await removeContainer(docker, created.id).catch(() => undefined);
        const message = engineMessage(error);
        if (/address already in use|port is already allocated/i.test(message)) {
          throw new DockerError(`127.0.0.1:${hostPort} (apiHostPort) is taken by a program on the host (${message})`, `${portHint(hostPort)}; \`ss -ltnp 'sport = :${hostPort}'\` names it`, { cause: error });
        }
        throw new DockerError(`starting container ${container} failed: ${message}`, undefined, { cause: error });
      }
      ctx.log(`${container} at ${ip}, 127.0.0.1:${hostPort} → ${port}`);
      return result(created.id);
    },
    // Read-only, like every probe: a stopped container is reported, and the build starts it.
    probe: async (result) => {
      const { inspectContainer } = await import('../../lib/docker/containers.ts');
      return endpointDrift(result, await inspectContainer(undefined, result.container), config.clusterName);
    },
    clean: (_result, ctx) => removeOwnContainer(container, config.clusterName, ctx.log),
  });
}
