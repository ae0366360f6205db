// What the cluster step builds on: the other steps' targets and the static facts derived from the config.
// The cluster step reads other steps' results only through the small shapes declared here.

import type { AnyTarget } from '../../lib/engine/target.ts';
import type { ClusterConfig } from '../config/config.ts';
import { ENCRYPTION_CONFIG } from '../certs/encryption.ts';
import { planIps, type IpPlan } from '../net/ip-plan.ts';
import { kubeconfigPath } from '../certs/kubeconfig.ts';
import { certCatalog, PKI_DIR, type CertSpec } from '../certs/catalog.ts';
import type { PkiTargets } from '../certs/pki.ts';

/** The images the cluster runs, as the images step names and loads them. */
export type ClusterImages = {
  /** containerd's sandbox_image; must be exactly the tag loaded on workers. */
  pause: string;
  coredns: string;
  /** The smoke test's HTTP server image (serves HTTP on `testPort`, has a shell, wget and nslookup). */
  test: string;
  testPort: number;
  /** `load:<image>@<node>` targets per worker, for pause/CoreDNS/test images. */
  loads: (image: 'pause' | 'coredns' | 'test', node: string) => AnyTarget;
};

export type ClusterStepInputs = {
  config: ClusterConfig;
  planTarget: AnyTarget;
  /** `node:<name>` targets; results carry at least { name, container, ip }. */
  nodes: Record<string, AnyTarget>;
  /** Binary targets by binary name; results carry { name, path, sha256 }. */
  binaries: Record<string, AnyTarget>;
  pki: PkiTargets;
  /** Kubeconfig targets by catalogue id (`admin`, `kubelet:worker-1`…). */
  kubeconfigs: Record<string, AnyTarget>;
  encryption: AnyTarget;
  images: ClusterImages;
};

export type ClusterContext = ClusterStepInputs & {
  plan: IpPlan;
  certs: Map<string, CertSpec>;
};

export function clusterContext(inputs: ClusterStepInputs): ClusterContext {
  const plan = planIps(inputs.config);
  return { ...inputs, plan, certs: new Map(certCatalog(inputs.config, plan).map((c) => [c.id, c])) };
}

/** A cert's or key's path (relative to the root) and the target that writes it. */
export function certSource(ctx: ClusterContext, id: string, part: 'cert' | 'key'): { file: string; from: AnyTarget } {
  const spec = ctx.certs.get(id);
  const from = ctx.pki.cas[id as keyof PkiTargets['cas']] ?? ctx.pki.leaves[id];
  if (!spec || !from) throw new Error(`cluster: no certificate "${id}" in the PKI catalogue (tasks/certs/catalog.ts)`);
  return { file: part === 'cert' ? spec.cert : spec.key, from };
}

export function serviceAccountSource(ctx: ClusterContext, part: 'key' | 'pub'): { file: string; from: AnyTarget } {
  return { file: `${PKI_DIR}/service-account.${part}`, from: ctx.pki.serviceAccount };
}

export function kubeconfigSource(ctx: ClusterContext, id: string): { file: string; from: AnyTarget } {
  const from = ctx.kubeconfigs[id];
  if (!from) throw new Error(`cluster: no kubeconfig "${id}" (tasks/certs/kubeconfig.ts)`);
  return { file: kubeconfigPath(id), from };
}

export function encryptionSource(ctx: ClusterContext): { file: string; from: AnyTarget } {
  return { file: ENCRYPTION_CONFIG, from: ctx.encryption };
}

export function nodeTarget(ctx: ClusterContext, name: string): AnyTarget {
  const t = ctx.nodes[name];
  if (!t) throw new Error(`cluster: no node target for ${name}`);
  return t;
}

export function binaryOf(ctx: ClusterContext, name: string): AnyTarget {
  const t = ctx.binaries[name];
  if (!t) throw new Error(`cluster: no binary target for ${name} (tasks/binaries/index.ts)`);
  return t;
}

/** Host-side paths of the admin identity, for probes and checks that talk to the API from the host. */
export function adminPaths(ctx: ClusterContext, root: string): { ca: string; cert: string; key: string } {
  const ca = ctx.certs.get('ca')!;
  const admin = ctx.certs.get('admin')!;
  return { ca: `${root}/${ca.cert}`, cert: `${root}/${admin.cert}`, key: `${root}/${admin.key}` };
}
