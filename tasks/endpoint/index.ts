// The endpoint step: the API endpoint every cluster has (`<clusterName>-api`, HAProxy in front of the
// apiservers): its image, its container with the published host port, and its config. The host always
// reaches the API through it; in-cluster clients do when the config balances (tasks/net/ip-plan.ts).

import type { AnyTarget } from '../../lib/engine/target.ts';
import { controlPlanes, hasApiEndpoint, type ClusterConfig } from '../config/config.ts';
import type { IpPlan } from '../net/ip-plan.ts';
import type { NetworkTarget } from '../net/network.ts';
import type { BaseImageTarget } from '../images/node-image.ts';
import { endpointImageTarget } from '../images/endpoint-image.ts';
import { endpointContainerTarget } from './container.ts';
import { endpointConfigTarget } from './config.ts';

export function endpointStep(config: ClusterConfig, plan: IpPlan, deps: { base: BaseImageTarget; network: NetworkTarget }) {
  // A cluster of SSH machines has no Docker network for it (tasks/config/config.ts: hasApiEndpoint).
  if (!hasApiEndpoint(config) || plan.apiEndpointIp === null) return { config: undefined, all: [] as AnyTarget[] };
  const image = endpointImageTarget({ base: deps.base });
  const container = endpointContainerTarget(config, plan.apiEndpointIp, { image, network: deps.network });
  const backends = controlPlanes(config).map((n) => ({ name: n.name, ip: plan.nodes.find((p) => p.name === n.name)!.ip }));
  const endpointConfig = endpointConfigTarget(backends, config.apiServerPort, { container });
  const all: AnyTarget[] = [image, container, endpointConfig];
  return { image, container, config: endpointConfig, all };
}
