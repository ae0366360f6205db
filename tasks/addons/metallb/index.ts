// MetalLB in L2 mode: LoadBalancer Services get an address from the planned pool (IpPlan.loadBalancerPool),
// and the speaker on one worker answers ARP for it on the node network, so the host (and anything else on
// the cluster's Docker network) reaches the Service there; kube-proxy's rules take it from the node to a pod.
// Targets: bin:metallb → image:metallb-{controller,speaker} → load:metallb-*@<worker> → addon:metallb.

import { perArch } from '../../config/arches.ts';
import { target, type AnyTarget } from '../../../lib/engine/target.ts';
import { goModDownload } from '../../../lib/go-build.ts';
import { GO_MISSING_HINT } from '../../binaries/index.ts';
import { binaryOf, kubeconfigSource } from '../../cluster/context.ts';
import { NotReadyError } from '../../cluster/errors.ts';
import { addonImageLoads, addonKubectl, apiStatus, type AddonContext, type AddonDefinition } from '../framework.ts';
import { ADDON_LABEL, applyObjects, checkRemovable, labelled } from '../objects.ts';
import { METALLB_VERSION } from '../versions.ts';
import { METALLB_COMPONENTS, METALLB_MODULE, metallbBinariesTarget, metallbImage, metallbImageTarget } from './images.ts';
import { clusterObjects, METALLB_NAMESPACE, POOL_NAME, poolObjects, upstreamObjects } from './manifests.ts';

/** The built-in kinds of what addon:metallb applies (its custom resources go with its CRDs). */
const KINDS = ['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Deployment', 'DaemonSet'] as const;

type Status = { status?: { availableReplicas?: number; numberReady?: number; desiredNumberScheduled?: number } };

function metallbTargets(ctx: AddonContext): { installed: AnyTarget; all: AnyTarget[] } {
  const cluster = ctx.cluster;
  const pool = cluster.plan.loadBalancerPool;
  if (!pool) throw new Error('addon metallb: the IP plan has no LoadBalancer pool (the config check should have refused this config)');
  // Binaries and images per architecture of the workers (perArch: one object each).
  const binFor = perArch((arch) => metallbBinariesTarget(METALLB_VERSION, arch));
  const images = METALLB_COMPONENTS.map((component) => ({ name: `metallb-${component}`, ref: metallbImage(component), image: perArch((arch) => metallbImageTarget(component, binFor(arch), METALLB_VERSION, arch)) }));
  const loads = addonImageLoads(ctx, images);
  const kubectl = binaryOf(cluster, 'kubectl');
  const admin = kubeconfigSource(cluster, 'admin');
  const range = `${pool.first}-${pool.last}`;
  const loadDeps = Object.fromEntries(loads.all.map((l) => [l.name, l]));
  const installed = target({
    name: 'addon:metallb',
    description: `MetalLB ${METALLB_VERSION} in L2 mode: LoadBalancer Services get addresses of ${range}, announced by ARP from a worker`,
    deps: { apiserver: ctx.apiserverReady, ...ctx.nodesReady, ...loadDeps, kubectl, admin: admin.from },
    version: 1,
    inputs: { values: { version: METALLB_VERSION, pool: range, images: images.map((i) => i.ref) } },
    build: async (bctx) => {
      const run = addonKubectl(cluster, bctx.root, bctx.deps.kubectl.path);
      const module = await goModDownload(METALLB_MODULE, METALLB_VERSION, { signal: bctx.signal, missingHint: GO_MISSING_HINT });
      const base = labelled('metallb', clusterObjects(await upstreamObjects(module.dir), { controller: metallbImage('controller'), speaker: metallbImage('speaker') }));
      const custom = labelled('metallb', poolObjects(pool));
      checkRemovable('metallb', [...base, ...custom], KINDS);
      // The CRDs must be established before the pool (a custom resource) can be applied.
      bctx.log(await applyObjects(run, 'metallb', base, bctx.signal));
      await run(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', `${ADDON_LABEL}=metallb`], { signal: bctx.signal, timeoutMs: 70_000 });
      bctx.log(await applyObjects(run, 'metallb', custom, bctx.signal));
      for (const workload of ['deployment/controller', 'daemonset/speaker']) {
        const status = await run(['-n', METALLB_NAMESPACE, 'rollout', 'status', workload, '--timeout=180s'], { allowFailure: true, timeoutMs: 200_000, signal: bctx.signal });
        if (status.exitCode !== 0) {
          const pods = await run(['-n', METALLB_NAMESPACE, 'get', 'pods', '-o', 'wide'], { allowFailure: true });
          const events = await run(['-n', METALLB_NAMESPACE, 'get', 'events', '--sort-by=.lastTimestamp'], { allowFailure: true });
          throw new NotReadyError(
            `MetalLB's ${workload} did not become ready: ${status.stderr || status.stdout}\n${pods.stdout}\n${events.stdout.split('\n').slice(-10).join('\n')}`,
            `look at its pods' logs: kubectl -n ${METALLB_NAMESPACE} logs ${workload}`,
          );
        }
      }
      return { version: METALLB_VERSION, pool: range };
    },
    // Three reads: the controller and the speakers are up, and the pool is the planned one.
    probe: async (_result, actx) => {
      const [controller, speaker, poolRes] = await Promise.all([
        apiStatus(cluster, actx.root, `/apis/apps/v1/namespaces/${METALLB_NAMESPACE}/deployments/controller`),
        apiStatus(cluster, actx.root, `/apis/apps/v1/namespaces/${METALLB_NAMESPACE}/daemonsets/speaker`),
        apiStatus(cluster, actx.root, `/apis/metallb.io/v1beta1/namespaces/${METALLB_NAMESPACE}/ipaddresspools/${POOL_NAME}`),
      ]);
      if (controller.status !== 200) return `MetalLB's controller Deployment: GET answered ${controller.status}`;
      if (speaker.status !== 200) return `MetalLB's speaker DaemonSet: GET answered ${speaker.status}`;
      if (poolRes.status !== 200) return `IPAddressPool ${POOL_NAME}: GET answered ${poolRes.status}`;
      if (!((JSON.parse(controller.body) as Status).status?.availableReplicas ?? 0)) return "MetalLB's controller has no available replica";
      const ds = (JSON.parse(speaker.body) as Status).status;
      if (!ds?.numberReady || ds.numberReady < (ds.desiredNumberScheduled ?? 0)) return `MetalLB's speakers: ${ds?.numberReady ?? 0} of ${ds?.desiredNumberScheduled ?? '?'} ready`;
      const addresses = (JSON.parse(poolRes.body) as { spec?: { addresses?: string[] } }).spec?.addresses ?? [];
      return addresses.length === 1 && addresses[0] === range ? undefined : `IPAddressPool ${POOL_NAME} has ${addresses.join(', ') || 'no addresses'}, planned ${range}`;
    },
  });
  const bins = [...new Set(loads.images.map((image) => image.deps['bin'] as AnyTarget))];
  return { installed, all: [...bins, ...loads.images, ...loads.all, installed] };
}

export const metallbAddon: AddonDefinition = {
  name: 'metallb',
  kinds: KINDS,
  witness: `/api/v1/namespaces/${METALLB_NAMESPACE}`,
  // No pool, no MetalLB: SSH machines that name none (the config check warns).
  applies: (ctx) => ctx.cluster.plan.loadBalancerPool !== null,
  targets: metallbTargets,
};
