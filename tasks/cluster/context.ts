// What the cluster step builds on: the other steps' targets, typed by the results those steps produce, and the facts derived from the config.
// A cluster target reads another step's result only through these types, so reading a field that result lacks does not compile.

import type { AnyTarget, DepMap, Target } from '../../lib/engine/target.ts';
import type { RecordedTargets } from '../../lib/engine/state.ts';
import type { ClusterConfig } from '../config/config.ts';
import { nodeArch } from '../config/arches.ts';
import { hostArch } from '../../lib/host-arch.ts';
import type { BinaryResult, KubernetesBinary } from '../binaries/index.ts';
import type { EtcdBinary } from '../binaries/etcd.ts';
import { encryptionConfigPath, type EncryptionResult } from '../certs/encryption.ts';
import type { IpPlan, PlannedNode } from '../net/ip-plan.ts';
import { kubeconfigPath, type kubeconfigTargets } from '../certs/kubeconfig.ts';
import { certCatalog, pkiDir, type CertSpec } from '../certs/catalog.ts';
import type { CertTarget, PkiTargets } from '../certs/pki.ts';
import type { NodeContainer } from '../nodes/containers.ts';
import type { unitTarget } from './node-targets.ts';
import type { EndpointConfigTarget } from '../endpoint/config.ts';

/** A `node:<name>` target of the nodes step: its result says how to reach the node (container, IP, role). */
export type NodeDep = Target<NodeContainer, DepMap>;

/** A `bin:<name>` target of the binaries step: its result is the cached binary's path and sha256. */
// Any deps (as AnyTarget): each has its own typed deps (`bin:kubernetes`), and build is contravariant in them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type BinaryDep = Target<BinaryResult, any>;

/** A `kubeconfig:<id>` target of the certs step (result: KubeconfigResult). */
export type KubeconfigDep = ReturnType<typeof kubeconfigTargets>['byId'][string];

/** The `encryption:config` target of the certs step. */
export type EncryptionDep = Target<EncryptionResult, DepMap>;

/** A `unit:<node>:<unit>` target of this step (node-targets.ts): its result names the node's container and the unit. */
export type UnitTarget = ReturnType<typeof unitTarget>;

/** The images the cluster runs, as the images step names and loads them. */
export type ClusterImages = {
  /** containerd's sandbox_image; must be exactly the tag loaded on workers. */
  pause: string;
  coredns: string;
  /** The smoke test's HTTP server image (serves HTTP on `testPort`, has a shell, wget and nslookup). */
  test: string;
  testPort: number;
  /**
   * `load:<image>@<node>` targets per worker, for pause/CoreDNS/test images. Untyped (the images step
   * lists its loads as AnyTarget[]): the cluster only orders after them and never reads their results.
   */
  loads: (image: 'pause' | 'coredns' | 'test', node: string) => AnyTarget;
};

export type ClusterStepInputs = {
  config: ClusterConfig;
  /** The graph's IP plan: computed once (tasks/index.ts), the very object `net:plan` returns. */
  plan: IpPlan;
  /** `node:<name>` targets by node name. */
  nodes: Record<string, NodeDep>;
  /** Binary targets by binary name. */
  binaries: Record<KubernetesBinary, BinaryDep>;
  /** `bin:etcd:etcd` and `bin:etcd:etcdctl`, for the control planes. */
  etcdBinaries: Record<EtcdBinary, BinaryDep>;
  /**
   * For nodes of another architecture than the build host's (tasks/config/arches.ts): by architecture,
   * the binaries cross-built for them (`bin:kubelet@arm64`, `bin:etcd:etcd@arm64`). Absent: none.
   */
  foreignBinaries?: Record<string, Partial<Record<KubernetesBinary | EtcdBinary, BinaryDep>>>;
  pki: PkiTargets;
  /** Kubeconfig targets by catalogue id (`admin`, `kubelet:worker-1`…). */
  kubeconfigs: Record<string, KubeconfigDep>;
  encryption: EncryptionDep;
  /** `endpoint:config`: the API endpoint (HAProxy) runs the config for these control planes; absent without one (SSH machines). */
  endpoint: EndpointConfigTarget | undefined;
  images: ClusterImages;
  /**
   * What earlier runs recorded (absent: nothing, as for a fresh cluster). etcd reads which control planes
   * ran a member, to tell a running cluster (members join it) from a fresh one (members bootstrap it).
   */
  recorded?: RecordedTargets;
};

export type ClusterContext = ClusterStepInputs & {
  certs: Map<string, CertSpec>;
};

export function clusterContext(inputs: ClusterStepInputs): ClusterContext {
  return { ...inputs, certs: new Map(certCatalog(inputs.config, inputs.plan).map((c) => [c.id, c])) };
}

/** A node's entry in the plan (its address, its pod CIDR); throws for a node the plan does not have. */
export function plannedNode(ctx: Pick<ClusterContext, 'plan'>, name: string): PlannedNode {
  const planned = ctx.plan.nodes.find((p) => p.name === name);
  if (!planned) throw new Error(`cluster: node ${name} is not in the IP plan`);
  return planned;
}

/** A cert's or key's path (relative to the root) and the target that writes it. */
export function certSource(ctx: ClusterContext, id: string, part: 'cert' | 'key'): { file: string; from: CertTarget } {
  const spec = ctx.certs.get(id);
  const targets: Record<string, CertTarget | undefined> = { ...ctx.pki.leaves, ...ctx.pki.cas };
  const from = targets[id];
  if (!spec || !from) throw new Error(`cluster: no certificate "${id}" in the PKI catalogue (tasks/certs/catalog.ts)`);
  return { file: part === 'cert' ? spec.cert : spec.key, from };
}

export function serviceAccountSource(ctx: ClusterContext, part: 'key' | 'pub'): { file: string; from: PkiTargets['serviceAccount'] } {
  return { file: `${pkiDir(ctx.config)}/service-account.${part}`, from: ctx.pki.serviceAccount };
}

export function kubeconfigSource(ctx: ClusterContext, id: string): { file: string; from: KubeconfigDep } {
  const from = ctx.kubeconfigs[id];
  if (!from) throw new Error(`cluster: no kubeconfig "${id}" (tasks/certs/kubeconfig.ts)`);
  return { file: kubeconfigPath(ctx.config, id), from };
}

export function encryptionSource(ctx: ClusterContext): { file: string; from: EncryptionDep } {
  return { file: encryptionConfigPath(ctx.config), from: ctx.encryption };
}

export function nodeTarget(ctx: ClusterContext, name: string): NodeDep {
  const t = ctx.nodes[name];
  if (!t) throw new Error(`cluster: no node target for ${name}`);
  return t;
}

/** A binary for the build host (kubectl, which the host's probes and add-ons run). */
export function binaryOf(ctx: ClusterContext, name: KubernetesBinary): BinaryDep {
  return ctx.binaries[name];
}

/** The binary a node installs: the one built for its architecture. */
export function nodeBinary(ctx: ClusterContext, name: KubernetesBinary | EtcdBinary, node: string): BinaryDep {
  const arch = nodeArch(ctx.config, node);
  if (arch === hostArch()) return name === 'etcd' || name === 'etcdctl' ? ctx.etcdBinaries[name] : ctx.binaries[name];
  const t = ctx.foreignBinaries?.[arch]?.[name];
  if (!t) throw new Error(`cluster: no ${name} built for ${arch}, which node ${node} is (tasks/binaries)`);
  return t;
}

/** Host-side paths of the admin identity, for probes and checks that talk to the API from the host. */
export function adminPaths(ctx: ClusterContext, root: string): { ca: string; cert: string; key: string } {
  const ca = ctx.certs.get('ca')!;
  const admin = ctx.certs.get('admin')!;
  return { ca: `${root}/${ca.cert}`, cert: `${root}/${admin.cert}`, key: `${root}/${admin.key}` };
}
