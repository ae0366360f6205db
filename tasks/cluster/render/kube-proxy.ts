// kube-proxy's KubeProxyConfiguration and unit for one worker.

import type { Json } from '../../../lib/engine/target.ts';
import { binDir, workerPaths as w } from '../layout.ts';
import { renderUnit } from './systemd.ts';
import { toYaml } from './yaml.ts';

export type KubeProxyParams = { nodeName: string; clusterCidr: string };

/**
 * iptables mode: IPVS is not built into these kernels and modules cannot be loaded.
 * conntrack: all zero so kube-proxy writes no conntrack sysctl — nf_conntrack_max is read-only outside
 * the host's initial network namespace, and the timeouts are not ours to change.
 */
export function renderKubeProxyConfig(p: KubeProxyParams): string {
  const config: Json = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig: w.kubeProxyKubeconfig },
    mode: 'iptables',
    clusterCIDR: p.clusterCidr,
    hostnameOverride: p.nodeName,
    conntrack: { maxPerCore: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
  };
  return toYaml(config);
}

export function renderKubeProxyUnit(): string {
  return renderUnit({
    description: 'Kubernetes Kube Proxy',
    documentation: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/',
    after: ['network.target'],
    service: { Restart: 'on-failure', RestartSec: 5 },
    exec: { path: `${binDir}/kube-proxy`, flags: { config: w.kubeProxyConfig, v: 2 } },
  });
}
