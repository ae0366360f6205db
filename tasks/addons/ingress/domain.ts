// The Ingress add-on's domain and demo host name, from the config alone (the PKI catalogue reads them too).

import type { ClusterConfig } from '../../config/config.ts';

/** The domain the Ingress serves: the spec's addons.ingress.domain, else `<clusterName>.test` (RFC 2606: never a real one). */
export function ingressDomain(config: Pick<ClusterConfig, 'clusterName' | 'addons'>): string {
  return config.addons.ingress.domain || `${config.clusterName}.test`;
}

/** The host name of the demo the smoke test puts behind an Ingress rule. */
export function demoHost(config: Pick<ClusterConfig, 'clusterName' | 'addons'>): string {
  return `demo.${ingressDomain(config)}`;
}
