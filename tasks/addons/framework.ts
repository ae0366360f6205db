// The add-on framework: what an add-on is (AddonDefinition), what its targets build on (AddonContext), and
// the helpers every add-on shares: its images' loads into the workers, kubectl and API reads with the admin
// identity, and its removal target `addon:<name>:remove` (by its label, tasks/addons/objects.ts).

import { hostArch } from '../../lib/host-arch.ts';
import { nodeArch } from '../config/arches.ts';
import { target, type AnyTarget, type DepMap, type Target } from '../../lib/engine/target.ts';
import type { NodeContainer } from '../nodes/containers.ts';
import { adminPaths, binaryOf, kubeconfigSource, type ClusterContext } from '../cluster/context.ts';
import { apiRequest, loadIdentity } from '../cluster/api-client.ts';
import { kubectlRunner, type Kubectl } from '../cluster/kubectl.ts';
import { rootPath } from '../cluster/node-targets.ts';
import { loadTarget, loadsAfterRuntime } from '../images/cluster-images.ts';
import type { ImageTarget } from '../images/scratch-image.ts';
import { ADDON_LABEL, removeObjects } from './objects.ts';
import type { AddonName } from './spec.ts';
import type { SmokeAddonCheck } from '../cluster/smoke-checks.ts';

/** What an add-on's targets build on. */
export type AddonContext = {
  cluster: ClusterContext;
  /** `cluster:apiserver-ready`. */
  apiserverReady: AnyTarget;
  /** Every worker's `node-ready:<name>` (or equivalent) target, by its name. */
  nodesReady: Record<string, AnyTarget>;
  /** `node:<name>` of every worker: where the add-on's images are loaded. */
  workerNodes: AnyTarget[];
  /** A worker's container runtime unit target: loads wait for it (loadsAfterRuntime). */
  runtimeOf: (node: string) => AnyTarget | undefined;
  /**
   * The installed targets of the add-ons before this one (AddonsConfig's order) that are on: an add-on
   * that builds on another (the Ingress's LoadBalancer Service on MetalLB) depends on it, or does without.
   */
  installed: Partial<Record<AddonName, AnyTarget>>;
};

/** One add-on: how it installs, and what its removal deletes. */
export type AddonDefinition = {
  name: AddonName;
  /**
   * The built-in kinds (as kubectl names them) of what it applies; removal deletes the add-on's label
   * from each, custom resources going with their CRDs. checkRemovable refuses to apply anything else.
   */
  kinds: readonly string[];
  /** API path of one object it always applies (its namespace): while that exists, the add-on counts as installed. */
  witness: string;
  /** Whether a config that switches it on can have it (MetalLB needs a pool); false: treated as off. Default: yes. */
  applies?(ctx: AddonContext): boolean;
  /**
   * Its targets; `installed` is the one that stands for the whole add-on (part of `cluster`), and
   * `smokeChecks` what cluster:smoke checks of it while it is on.
   */
  targets(ctx: AddonContext): { installed: AnyTarget; all: AnyTarget[]; smokeChecks?: SmokeAddonCheck[] };
};

/** The built kubectl with the admin kubeconfig, for a build of a target that has `kubectl` and `admin` deps. */
export function addonKubectl(ctx: ClusterContext, root: string, kubectlPath: string): Kubectl {
  return kubectlRunner(rootPath(root, kubectlPath), rootPath(root, kubeconfigSource(ctx, 'admin').file));
}

/** GET of an API path with the admin identity: its status (0 when the API does not answer). */
export async function apiStatus(ctx: ClusterContext, root: string, path: string): Promise<{ status: number; body: string }> {
  return apiRequest(`${ctx.plan.apiServerUrl}${path}`, loadIdentity(adminPaths(ctx, root)), { timeoutMs: 3000 }).catch((e: Error) => ({ status: 0, body: e.message }));
}

/**
 * `load:<image>@<worker>` for each of an add-on's images on every worker, ordered after the worker's
 * container runtime like the cluster images' loads. By worker name, the loads of that worker. `image`
 * makes the image for an architecture (a perArch function: one object each); a worker gets its own
 * architecture's. `images`: every image target the loads use, and the build host's always.
 */
export function addonImageLoads(ctx: AddonContext, images: readonly { name: string; ref: string; image: (arch: string) => ImageTarget<any> }[]): { byWorker: Record<string, AnyTarget[]>; all: AnyTarget[]; images: AnyTarget[] } {
  const byWorker: Record<string, AnyTarget[]> = {};
  const all: AnyTarget[] = [];
  const used = new Set<AnyTarget>(images.map(({ image }) => image(hostArch())));
  for (const node of ctx.workerNodes) {
    const worker = node.name.replace(/^node:/, '');
    for (const { name, ref, image } of images) {
      const built = image(nodeArch(ctx.cluster.config, worker));
      used.add(built);
      const load = loadTarget(name, ref, built, node as Target<NodeContainer, DepMap>);
      (byWorker[worker] ??= []).push(load);
      all.push(load);
    }
  }
  loadsAfterRuntime(all, ctx.runtimeOf);
  return { byWorker, all, images: [...used] };
}

/**
 * `addon:<name>:remove`: deletes everything labelled `harder.addon=<name>` of the add-on's kinds. Up to
 * date while the add-on's witness object is absent; if it reappears (the add-on applied by hand, or a run
 * with it on), the next run with it off removes it again.
 */
export function addonRemovalTarget(ctx: AddonContext, addon: AddonDefinition) {
  const kubectl = binaryOf(ctx.cluster, 'kubectl');
  const admin = kubeconfigSource(ctx.cluster, 'admin');
  return target({
    name: `addon:${addon.name}:remove`,
    description: `${addon.name} is switched off (addons.${addon.name}.enabled false): delete every object labelled ${ADDON_LABEL}=${addon.name} (${addon.kinds.join(', ')}; custom resources with their CRDs)`,
    deps: { apiserver: ctx.apiserverReady, kubectl, admin: admin.from },
    inputs: { values: { kinds: [...addon.kinds], witness: addon.witness } },
    build: async (bctx) => {
      const run = addonKubectl(ctx.cluster, bctx.root, bctx.deps.kubectl.path);
      const deleted = await removeObjects(run, addon.name, addon.kinds, bctx.signal);
      bctx.log(deleted.length ? deleted.join('\n') : `nothing labelled ${ADDON_LABEL}=${addon.name}: ${addon.name} was not installed`);
      // Not the deleted names: the result is the same whether there was something to delete or not.
      return { addon: addon.name, removed: true };
    },
    probe: async (_result, actx) => {
      const res = await apiStatus(ctx.cluster, actx.root, addon.witness);
      if (res.status === 404) return undefined;
      if (res.status === 200) return `${addon.name} is switched off but ${addon.witness} exists`;
      return `cannot check whether ${addon.name} is gone: GET ${addon.witness} answered ${res.status || res.body}`;
    },
  });
}

