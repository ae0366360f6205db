// MetalLB's objects: upstream's own manifest for L2 ("native") mode, read from the module at build time
// (config/manifests/metallb-native.yaml: the CRDs, RBAC, the controller Deployment and the speaker
// DaemonSet), with what this cluster changes, plus the pool and its L2 announcement from the spec.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../objects.ts';
import type { LoadBalancerPool } from '../../net/ip-plan.ts';
import { ClusterError } from '../../cluster/errors.ts';

export const METALLB_NAMESPACE = 'metallb-system';
/** The IPAddressPool and L2Advertisement made from addons.metallb.pool. */
export const POOL_NAME = 'harder-pool';
/** Where upstream keeps the all-in-one manifest of L2 mode in the module. */
export const NATIVE_MANIFEST = 'config/manifests/metallb-native.yaml';

/**
 * The objects the validating webhook needs: left out, with the controller run with --webhook-mode=disabled.
 * The webhook checks the custom resources a user writes; here the one pool is checked by the spec check
 * (tasks/net/ip-plan.ts) before anything runs, and leaving it out spares the cluster a certificate the
 * controller rotates and an apiserver → pod call on every write of a MetalLB object.
 */
const WEBHOOK_ONLY = new Set(['ValidatingWebhookConfiguration/metallb-webhook-configuration', 'Secret/metallb-webhook-cert', 'Service/metallb-webhook-service']);

type Container = { name: string; image?: string; imagePullPolicy?: string; args?: string[]; ports?: { name?: string }[]; volumeMounts?: { name: string }[] };
type PodSpec = { containers: Container[]; volumes?: { name: string }[] };
type Workload = KubeObject & { spec: { template: { spec: PodSpec } } };

/** The upstream manifest's objects (documents that are empty, e.g. after a trailing `---`, dropped). */
export async function upstreamObjects(moduleDir: string): Promise<KubeObject[]> {
  const { parseAllDocuments } = await import('yaml');
  const text = await readFile(join(moduleDir, NATIVE_MANIFEST), 'utf8');
  return parseAllDocuments(text)
    .map((doc) => doc.toJSON() as KubeObject | null)
    .filter((o): o is KubeObject => !!o && typeof o === 'object' && typeof o.kind === 'string');
}

function workload(objects: KubeObject[], kind: string, name: string): Workload {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name) as Workload | undefined;
  if (!found) throw new ClusterError(`MetalLB's ${NATIVE_MANIFEST} has no ${kind} ${name}`, 'this version lays its manifest out differently: check the objects of tasks/addons/metallb/manifests.ts against it');
  return found;
}

/**
 * Upstream's objects for this cluster: the webhook's left out (WEBHOOK_ONLY; the bgppeers CRD's
 * conversion webhook too, BGP is not used), the images the local builds (never pulled: no registry),
 * the controller without its webhook server.
 */
export function clusterObjects(upstream: readonly KubeObject[], images: { controller: string; speaker: string }): KubeObject[] {
  const objects = (JSON.parse(JSON.stringify(upstream)) as KubeObject[]).filter((o) => !WEBHOOK_ONLY.has(`${o.kind}/${o.metadata.name}`));
  for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) delete (crd.spec as { conversion?: unknown }).conversion;
  const controller = workload(objects, 'Deployment', 'controller');
  const speaker = workload(objects, 'DaemonSet', 'speaker');
  for (const [object, image] of [
    [controller, images.controller],
    [speaker, images.speaker],
  ] as const) {
    const container = object.spec.template.spec.containers[0]!;
    container.image = image;
    container.imagePullPolicy = 'Never';
  }
  const pod = controller.spec.template.spec;
  const container = pod.containers[0]!;
  container.args = [...(container.args ?? []), '--webhook-mode=disabled'];
  container.ports = (container.ports ?? []).filter((p) => p.name !== 'webhook-server');
  container.volumeMounts = (container.volumeMounts ?? []).filter((m) => m.name !== 'cert');
  pod.volumes = (pod.volumes ?? []).filter((v) => v.name !== 'cert');
  for (const o of objects) delete (o.metadata as { creationTimestamp?: unknown }).creationTimestamp;
  return objects;
}

/** The pool (`first-last`) and its announcement by ARP on the node network (L2 mode). */
export function poolObjects(pool: LoadBalancerPool): KubeObject[] {
  return [
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'IPAddressPool',
      metadata: { name: POOL_NAME, namespace: METALLB_NAMESPACE },
      spec: { addresses: [`${pool.first}-${pool.last}`] },
    },
    {
      apiVersion: 'metallb.io/v1beta1',
      kind: 'L2Advertisement',
      metadata: { name: POOL_NAME, namespace: METALLB_NAMESPACE },
      spec: { ipAddressPools: [POOL_NAME] },
    },
  ];
}
