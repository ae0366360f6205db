// The Ingress add-on: Traefik as the cluster's Ingress controller (the default IngressClass), its default
// TLS certificate a wildcard for *.<domain> issued by the project's PKI (certs:ingress-default), exposed
// through a LoadBalancer Service whose address MetalLB gives (a NodePort Service when MetalLB is off).
// Targets: image:traefik → load:traefik@<worker> → addon:ingress.

import { perArch } from '../../config/arches.ts';
import { readFile } from 'node:fs/promises';
import { target, type AnyTarget } from '../../../lib/engine/target.ts';
import { balancedApi, workers } from '../../config/config.ts';
import { binaryOf, certSource, kubeconfigSource, plannedNode } from '../../cluster/context.ts';
import { NotReadyError } from '../../cluster/errors.ts';
import { rootPath, sha256, sleep } from '../../cluster/node-targets.ts';
import { toYamlDocuments } from '../../cluster/render/yaml.ts';
import { addonImageLoads, addonKubectl, apiStatus, type AddonContext, type AddonDefinition } from '../framework.ts';
import { applyObjects, checkRemovable, labelled, type KubeObject } from '../objects.ts';
import { TRAEFIK_VERSION } from '../versions.ts';
import { readIngressAddress, type IngressAddress } from './address.ts';
import { ingressDomain } from './domain.ts';
import { ingressSmokeChecks } from './smoke.ts';
import { TRAEFIK_IMAGE, traefikImageTarget } from './image.ts';
import { INGRESS_NAMESPACE, ingressManifests, type IngressParams } from './manifests.ts';

const ADDON = 'ingress';
/** The built-in kinds of what addon:ingress applies. */
const KINDS = ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'IngressClass', 'Secret', 'ConfigMap', 'Deployment', 'Service'] as const;

export type IngressResult = { version: string; domain: string; serviceType: string; address: IngressAddress; certSha256: string };

function ingressTargets(ctx: AddonContext): ReturnType<AddonDefinition['targets']> {
  const cluster = ctx.cluster;
  const config = cluster.config;
  const loads = addonImageLoads(ctx, [{ name: 'traefik', ref: TRAEFIK_IMAGE, image: perArch(traefikImageTarget) }]);
  const kubectl = binaryOf(cluster, 'kubectl');
  const admin = kubeconfigSource(cluster, 'admin');
  const cert = { cert: certSource(cluster, 'ingress-default', 'cert'), key: certSource(cluster, 'ingress-default', 'key') };
  const metallb = ctx.installed.metallb;
  const workerIps = workers(config).map((n) => plannedNode(cluster, n.name).ip);
  const domain = ingressDomain(config);
  const params = (tls: { cert: string; key: string }): IngressParams => ({
    image: TRAEFIK_IMAGE,
    tlsCert: tls.cert,
    tlsKey: tls.key,
    serviceType: metallb ? 'LoadBalancer' : 'NodePort',
    replicas: Math.min(2, workerIps.length),
    ...(balancedApi(config) && cluster.plan.apiEndpointIp ? { apiServer: { host: cluster.plan.apiEndpointIp, port: config.apiServerPort } } : {}),
  });
  const shape = sha256(toYamlDocuments(ingressManifests(params({ cert: '', key: '' }))));
  const installed = target({
    name: `addon:${ADDON}`,
    description: `Traefik ${TRAEFIK_VERSION}, the default IngressClass, HTTPS for *.${domain} with a certificate from the cluster CA, behind a ${metallb ? 'LoadBalancer' : 'NodePort'} Service`,
    deps: {
      apiserver: ctx.apiserverReady,
      ...ctx.nodesReady,
      ...Object.fromEntries(loads.all.map((l) => [l.name, l])),
      // The LoadBalancer Service gets its address from MetalLB: installed first.
      ...(metallb ? { metallb } : {}),
      kubectl,
      admin: admin.from,
      cert: cert.cert.from,
    },
    version: 1,
    inputs: { values: { version: TRAEFIK_VERSION, image: TRAEFIK_IMAGE, domain, shape } },
    build: async (bctx): Promise<IngressResult> => {
      const run = addonKubectl(cluster, bctx.root, bctx.deps.kubectl.path);
      const read = (file: string) => readFile(rootPath(bctx.root, file), 'utf8');
      const p = params({ cert: await read(cert.cert.file), key: await read(cert.key.file) });
      const objects = labelled(ADDON, ingressManifests(p) as KubeObject[]);
      checkRemovable(ADDON, objects, KINDS);
      bctx.log(await applyObjects(run, ADDON, objects, bctx.signal));
      // A re-issued certificate is a changed Secret, whose files reach running pods only a minute later: roll them.
      const previous = bctx.previous as Partial<IngressResult> | undefined;
      if (previous?.certSha256 && previous.certSha256 !== bctx.deps.cert.sha256) await run(['-n', INGRESS_NAMESPACE, 'rollout', 'restart', 'deployment/traefik'], { signal: bctx.signal });
      const status = await run(['-n', INGRESS_NAMESPACE, 'rollout', 'status', 'deployment/traefik', '--timeout=180s'], { allowFailure: true, timeoutMs: 200_000, signal: bctx.signal });
      let address: IngressAddress | undefined;
      for (let i = 0; status.exitCode === 0 && i < 30 && !address; i++) {
        if (i > 0) await sleep(2000, bctx.signal);
        address = await readIngressAddress(run, workerIps);
      }
      if (!address) {
        const pods = await run(['-n', INGRESS_NAMESPACE, 'get', 'pods,services', '-o', 'wide'], { allowFailure: true });
        const events = await run(['-n', INGRESS_NAMESPACE, 'get', 'events', '--sort-by=.lastTimestamp'], { allowFailure: true });
        throw new NotReadyError(
          `Traefik did not become ready${status.exitCode === 0 ? ', or its Service got no address' : `: ${status.stderr || status.stdout}`}\n${pods.stdout}\n${events.stdout.split('\n').slice(-10).join('\n')}`,
          `look at its logs: kubectl -n ${INGRESS_NAMESPACE} logs deployment/traefik${metallb ? '; and whether MetalLB gave the Service an address' : ''}`,
        );
      }
      bctx.log(`Traefik answers on ${address.ip}:${address.port} for *.${domain}`);
      return { version: TRAEFIK_VERSION, domain, serviceType: p.serviceType, address, certSha256: bctx.deps.cert.sha256 };
    },
    probe: async (result, actx) => {
      const [deployment, service] = await Promise.all([
        apiStatus(cluster, actx.root, `/apis/apps/v1/namespaces/${INGRESS_NAMESPACE}/deployments/traefik`),
        apiStatus(cluster, actx.root, `/api/v1/namespaces/${INGRESS_NAMESPACE}/services/traefik`),
      ]);
      if (deployment.status !== 200) return `Traefik's Deployment: GET answered ${deployment.status}`;
      if (service.status !== 200) return `Traefik's Service: GET answered ${service.status}`;
      if (!((JSON.parse(deployment.body) as { status?: { availableReplicas?: number } }).status?.availableReplicas ?? 0)) return 'Traefik has no available replica';
      const lb = (JSON.parse(service.body) as { status?: { loadBalancer?: { ingress?: { ip?: string }[] } } }).status?.loadBalancer?.ingress?.[0]?.ip;
      if (result.serviceType === 'LoadBalancer' && lb !== result.address.ip) return `Traefik's Service has address ${lb ?? 'none'}, was ${result.address.ip}`;
      return undefined;
    },
  });
  return { installed, all: [...loads.images, ...loads.all, installed], smokeChecks: ingressSmokeChecks({ domain, workerIps }) };
}

export const ingressAddon: AddonDefinition = {
  name: ADDON,
  kinds: KINDS,
  witness: `/api/v1/namespaces/${INGRESS_NAMESPACE}`,
  targets: ingressTargets,
};
