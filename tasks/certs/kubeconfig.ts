// Kubeconfig targets: one file per client identity, with the cluster CA, client cert and key embedded.

import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { target } from '../../lib/engine/target.ts';
import { describeCertificate } from '../../lib/pki/inspect.ts';
import { replaceFiles } from '../../lib/pki/files.ts';
import { workers, type ClusterConfig } from '../config/config.ts';
import type { IpPlan } from '../net/ip-plan.ts';
import { clusterOf } from '../config/clusters.ts';
import type { PkiTargets } from './pki.ts';
import { toYaml } from '../cluster/render/yaml.ts';

export type KubeconfigResult = { path: string; sha256: string; server: string; user: string; cluster: string };

export type KubeconfigInput = {
  clusterName: string;
  server: string;
  user: string;
  caPem: string;
  certPem: string;
  keyPem: string;
};

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** Renders a kubeconfig with one cluster, one user and one context (named user@cluster, as kubeadm does). */
export function renderKubeconfig(input: KubeconfigInput): string {
  const context = `${input.user}@${input.clusterName}`;
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: input.clusterName, cluster: { server: input.server, 'certificate-authority-data': b64(input.caPem) } }],
    users: [{ name: input.user, user: { 'client-certificate-data': b64(input.certPem), 'client-key-data': b64(input.keyPem) } }],
    contexts: [{ name: context, context: { cluster: input.clusterName, user: input.user } }],
    'current-context': context,
    preferences: {},
  });
}

export type KubeconfigSpec = { id: string; certId: string; server: string; description: string };

/**
 * Which kubeconfigs exist and where each points. admin is used from the host: the port the API endpoint
 * container publishes on 127.0.0.1, the one way in for every cluster (container addresses are not routable
 * from every host: Docker Desktop). kubelets and kube-proxy use the plan's in-cluster URL (the endpoint's
 * load balancer when the config balances). The controller-manager and scheduler run on every control
 * plane and talk to their own node's apiserver (as kubeadm's do): the control plane does not depend on the
 * endpoint, and going from one control plane to three (or back) leaves the running ones' kubeconfigs alone.
 */
export function kubeconfigCatalog(config: ClusterConfig, plan: IpPlan): KubeconfigSpec[] {
  const hostUrl = adminServerUrl(config, plan);
  const controlPlaneUrl = `https://127.0.0.1:${config.apiServerPort}`;
  return [
    { id: 'admin', certId: 'admin', server: hostUrl, description: `Admin kubeconfig for the host (kubectl --kubeconfig ${kubeconfigPath(config, 'admin')})` },
    { id: 'kube-controller-manager', certId: 'kube-controller-manager', server: controlPlaneUrl, description: 'kube-controller-manager kubeconfig' },
    { id: 'kube-scheduler', certId: 'kube-scheduler', server: controlPlaneUrl, description: 'kube-scheduler kubeconfig' },
    { id: 'kube-proxy', certId: 'kube-proxy', server: plan.apiServerUrl, description: 'kube-proxy kubeconfig' },
    ...workers(config).map((node) => ({
      id: `kubelet:${node.name}`,
      certId: `kubelet:${node.name}`,
      server: plan.apiServerUrl,
      description: `kubelet kubeconfig of ${node.name}`,
    })),
  ];
}

/**
 * The admin kubeconfig's server: the endpoint's published port on the host's loopback (the first control
 * plane's address for a cluster of SSH machines, which has no endpoint). The one place it is decided.
 */
export function adminServerUrl(config: Pick<ClusterConfig, 'apiHostPort' | 'apiServerPort'>, plan: IpPlan): string {
  if (plan.apiEndpointIp === null) return `https://${plan.nodes.find((n) => n.role === 'control-plane')!.ip}:${config.apiServerPort}`;
  return `https://127.0.0.1:${config.apiHostPort}`;
}

/** Where kubeconfig `id` of this cluster is, relative to the project root: `kubeconfig/` in its state directory. */
export function kubeconfigPath(config: Pick<ClusterConfig, 'clusterName' | 'stateDir'>, id: string): string {
  return `${clusterOf(config).stateDir}/kubeconfig/${id.replace(/:/g, '-')}.kubeconfig`;
}

function kubeconfigTarget(spec: KubeconfigSpec, config: ClusterConfig, pki: PkiTargets) {
  const cert = pki.leaves[spec.certId];
  if (!cert) throw new Error(`kubeconfig ${spec.id}: no certificate target certs:${spec.certId}`);
  const path = kubeconfigPath(config, spec.id);
  return target({
    name: `kubeconfig:${spec.id}`,
    description: spec.description,
    deps: { ca: pki.cas.ca, cert },
    inputs: { values: { clusterName: config.clusterName, server: spec.server } },
    outputs: [path],
    version: 1,
    build: async (ctx): Promise<KubeconfigResult> => {
      const read = (file: string) => readFile(resolve(ctx.root, file), 'utf8');
      const [caPem, certPem, keyPem] = await Promise.all([read(ctx.deps.ca.cert), read(ctx.deps.cert.cert), read(ctx.deps.cert.key)]);
      // The user entry is named after the identity the apiserver will see: the cert's CN.
      const user = describeCertificate(certPem, ctx.deps.cert.cert).CN;
      const text = renderKubeconfig({ clusterName: config.clusterName, server: spec.server, user, caPem, certPem, keyPem });
      await replaceFiles([{ path: resolve(ctx.root, path), data: text, mode: 0o600 }]);
      return { path, sha256: createHash('sha256').update(text).digest('hex'), server: spec.server, user, cluster: config.clusterName };
    },
  });
}

export function kubeconfigTargets(config: ClusterConfig, pki: PkiTargets, plan: IpPlan) {
  const byId: Record<string, ReturnType<typeof kubeconfigTarget>> = {};
  for (const spec of kubeconfigCatalog(config, plan)) byId[spec.id] = kubeconfigTarget(spec, config, pki);
  return { byId, all: Object.values(byId) };
}
