// Removes what a cluster owns on the Docker engine, found by its label: containers first (they hold
// the volumes and the network), then volumes, then the network. Never touches unlabelled objects.

import { CLUSTER_LABEL } from './labels.ts';

export async function removeClusterObjects(clusterName: string, log: (line: string) => void = () => undefined): Promise<string[]> {
  const { connectDocker } = await import('../../lib/docker/connect.ts');
  const { listContainersByLabel, listVolumesByLabel, removeContainer, removeVolume } = await import('../../lib/docker/containers.ts');
  const { listNetworksByLabel, removeNetwork } = await import('../../lib/docker/networks.ts');
  const docker = await connectDocker();
  const labels = { [CLUSTER_LABEL]: clusterName };
  const removed: string[] = [];
  const containers = await listContainersByLabel(docker, labels);
  await Promise.all(
    containers.map(async (c) => {
      const name = c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
      if (await removeContainer(docker, c.Id)) {
        log(`removed container ${name}`);
        removed.push(`container ${name}`);
      }
    }),
  );
  for (const volume of await listVolumesByLabel(docker, labels)) {
    if (await removeVolume(docker, volume)) {
      log(`removed volume ${volume}`);
      removed.push(`volume ${volume}`);
    }
  }
  for (const network of await listNetworksByLabel(docker, labels)) {
    if (await removeNetwork(docker, network.Id)) {
      log(`removed network ${network.Name}`);
      removed.push(`network ${network.Name}`);
    }
  }
  return removed.sort();
}

/**
 * A container target's clean: removes the container (then its volumes) only when it carries this
 * cluster's label; one that belongs to someone else is left alone and said so.
 */
export async function removeOwnContainer(container: string, clusterName: string, log: (line: string) => void, volumes: readonly string[] = []): Promise<void> {
  const { connectDocker } = await import('../../lib/docker/connect.ts');
  const { inspectContainer, removeContainer, removeVolume } = await import('../../lib/docker/containers.ts');
  const docker = await connectDocker();
  const info = await inspectContainer(docker, container);
  if (info && info.Config.Labels?.[CLUSTER_LABEL] !== clusterName) {
    log(`left ${container} alone: it is not labelled ${CLUSTER_LABEL}=${clusterName}`);
    return;
  }
  if (await removeContainer(docker, container)) log(`removed container ${container}`);
  for (const volume of volumes) if (await removeVolume(docker, volume)) log(`removed volume ${volume}`);
}
