// The Docker labels that mark what belongs to a cluster: clean:nodes and every probe go by these,
// never by name patterns, so nothing of another cluster (or another project) is touched.

export const CLUSTER_LABEL = 'harder.cluster';
export const ROLE_LABEL = 'harder.role';
export const NODE_LABEL = 'harder.node';
/** The node container's spec hash: equal label ⇔ the container was made from the same inputs. */
export const KEY_LABEL = 'harder.key';
/** What an object is to the cluster: `node`, `containerd-volume`, `network`, `api-endpoint`. */
export const PART_LABEL = 'harder.part';

/** Container name of a node: `<clusterName>-<nodeName>`. */
export function containerName(clusterName: string, nodeName: string): string {
  return `${clusterName}-${nodeName}`;
}

/**
 * Container name of the API endpoint (HAProxy in front of the apiservers): `<clusterName>-api`, so no
 * node may be named `api` (tasks/config/config.ts refuses it). Docker's DNS resolves it on the cluster network.
 */
export function apiEndpointContainer(clusterName: string): string {
  return `${clusterName}-api`;
}
