// The project's target graph: composes each step's targets from the cluster config. Each step module
// exports a function that takes the config and the targets it builds on, and returns its own targets
// (typed, so a later step can depend on a specific earlier target) plus `all`, the list to register.

import type { AnyTarget, DepMap } from '../lib/engine/target.ts';
import type { ClusterConfig } from './config/config.ts';
import { ipPlanTarget, planIps } from './net/ip-plan.ts';
import { certsStep } from './certs/index.ts';
import { nodesStep } from './nodes/index.ts';
import { binariesTargets } from './binaries/index.ts';
import { etcdBinariesTargets } from './binaries/etcd.ts';
import { clusterArches } from './config/arches.ts';
import { hostArch } from '../lib/host-arch.ts';
import { corednsImageFor, imagesTargets, loadCommand, loadsAfterRuntime, pauseImageFor, TEST_IMAGE, TEST_IMAGE_PORT } from './images/cluster-images.ts';
import type { ProjectCommand } from '../lib/cli/index.ts';
import type { TargetsContext } from '../lib/cli/project.ts';
import { nodeRemovalTargets } from './nodes/removal.ts';
import { etcdMemberRemoveTarget } from './cluster/etcd.ts';
import { controlPlanes } from './config/config.ts';
import { clusterStep, imageLoadsByName } from './cluster/index.ts';
import { HOST_KUBECONFIG_TARGET, hostKubeconfigTarget, kubectlHint, type HostKubeconfigResult } from './certs/host-kubeconfig.ts';
import { kubectlCommand } from './cluster/kubectl-command.ts';
import type { BuildReport } from '../lib/engine/index.ts';
import { logsCommand } from './logs/command.ts';
export { logsHint } from './logs/hint.ts';
import { conformanceCommand, conformanceStep } from './conformance/index.ts';
import { podNodeTargets } from './images/cluster-images.ts';
import { endpointStep } from './endpoint/index.ts';
import { addonsStep } from './addons/index.ts';
import { ingressNotes } from './addons/ingress/notes.ts';
import type { IngressResult } from './addons/ingress/index.ts';
import { RENEW_COMMAND, renewCommand } from './certs/renew.ts';
import { describePlan, etcdPlan, upgradeView } from './cluster/upgrade/index.ts';
import { recordedTargets } from '../lib/engine/state.ts';
import { upgradeTargets } from './cluster/upgrade/targets.ts';
import { kubeletHealth, kubeProxyHealth } from './cluster/unit-health.ts';

/** Every target of the project for one cluster config. The CLI registers these. */
export function projectTargets(config: ClusterConfig, context?: TargetsContext): AnyTarget[] {
  // Every address, computed once for this graph: each step that needs one gets this plan, and
  // `net:plan` returns this very object (one source of truth).
  const plan = planIps(config);
  const planTarget = ipPlanTarget(config, plan);
  // Steps are added here in build order; each receives the earlier steps' targets it needs.
  const certs = certsStep(config, plan);
  const nodes = nodesStep(config, plan);
  const endpoint = endpointStep(config, plan, { base: nodes.base, network: nodes.network });
  const binaries = binariesTargets(config);
  const etcdBinaries = etcdBinariesTargets(config);
  const images = imagesTargets(config, { nodes: nodes.nodes });
  const cluster = clusterStep({
    config,
    plan,
    nodes: nodes.byNode,
    binaries: {
      'kube-apiserver': binaries.kubeApiserver,
      'kube-controller-manager': binaries.kubeControllerManager,
      'kube-scheduler': binaries.kubeScheduler,
      kubelet: binaries.kubelet,
      'kube-proxy': binaries.kubeProxy,
      kubectl: binaries.kubectl,
    },
    etcdBinaries: { etcd: etcdBinaries.etcd, etcdctl: etcdBinaries.etcdctl },
    foreignBinaries: Object.fromEntries(clusterArches(config).filter((arch) => arch !== hostArch()).map((arch) => [arch, { ...binaries.byArch[arch], ...etcdBinaries.byArch[arch] }])),
    pki: certs.pki,
    kubeconfigs: certs.kubeconfigs.byId,
    encryption: certs.encryption,
    endpoint: endpoint.config,
    images: {
      pause: pauseImageFor(config.kubernetesVersion),
      coredns: corednsImageFor(config.kubernetesVersion),
      test: TEST_IMAGE,
      testPort: TEST_IMAGE_PORT,
      loads: imageLoadsByName(images.loads, { pause: 'pause', coredns: 'coredns', test: 'echo' }),
    },
    ...(context?.recorded ? { recorded: context.recorded } : {}),
  });
  loadsAfterRuntime(images.loads, (node) => cluster.workers.containerd[node]);
  // The add-ons (tasks/addons): each one's targets when it is on, its removal when it is off; `cluster`
  // stands for either, and the smoke test runs after them (it checks MetalLB when it is on).
  const addons = addonsStep({
    cluster: cluster.ctx,
    apiserverReady: cluster.controlPlane.ready,
    nodesReady: cluster.workers.ready,
    workerNodes: podNodeTargets(config, nodes.nodes),
    runtimeOf: (node) => cluster.workers.containerd[node],
  });
  for (const part of Object.values(addons.parts)) cluster.cluster.deps[part.name] = part;
  cluster.addonChecks.push(...addons.smokeChecks);
  // The endpoint names a control plane once its apiserver runs (HAProxy takes a new server as up), and
  // changes only after the membership check passed (a refused change leaves it as it is).
  if (endpoint.config) {
    const after = endpoint.config.deps as DepMap;
    after['after:membership'] = cluster.etcd.membership;
    for (const [node, apiserver] of Object.entries(cluster.controlPlane.apiservers)) after[`after:apiserver:${node}`] = apiserver;
  }
  // A recorded node no longer in the config is removed by its own (destructive) target, part of `cluster`.
  // A control plane leaves after the membership check, after the endpoint's config without it is running,
  // after any joins (etcd healthy), one at a time; the control planes that stay are asked to remove it.
  const survivors = controlPlanes(config).map((n) => nodes.byNode[n.name]!);
  const removals = nodeRemovalTargets(config, context?.recorded, {
    kubectl: binaries.kubectl,
    adminKubeconfig: certs.kubeconfigs.byId['admin']!,
    apiserverReady: cluster.controlPlane.ready,
    memberRemoval: (node, previous) =>
      etcdMemberRemoveTarget({
        ...node,
        survivors,
        after: { membership: cluster.etcd.membership, etcd: cluster.etcd.healthy, ...(endpoint.config ? { endpoint: endpoint.config } : {}), ...(previous ? { previous } : {}) },
      }),
  });
  for (const removal of removals) cluster.cluster.deps[removal.name] = removal;
  // The admin context in the user's own kubeconfig, once the API answers; not even registered when the
  // spec opts out, so nothing can touch that file.
  const host = config.mergeKubeconfig ? [hostKubeconfigTarget(config, { admin: certs.kubeconfigs.byId['admin']!, apiserverReady: cluster.controlPlane.ready })] : [];
  for (const merge of host) cluster.cluster.deps[merge.name] = merge;
  // The upstream conformance suite and its test images: built only when cluster:conformance is asked for.
  const conformance = conformanceStep({
    config,
    base: nodes.base,
    workers: podNodeTargets(config, nodes.nodes) as Parameters<typeof conformanceStep>[0]['workers'],
    runtimeOf: (node) => cluster.workers.containerd[node],
    cluster: cluster.cluster,
    kubectl: binaries.kubectl,
    adminKubeconfig: certs.kubeconfigs.byId['admin']!,
  });
  const registered = [planTarget, ...certs.all, ...nodes.all, ...endpoint.all, ...binaries.all, ...etcdBinaries.all, ...images.all, ...cluster.all, ...addons.all, ...removals, ...host, ...conformance.all];
  // A version change of a running cluster (tasks/cluster/upgrade): drain and uncordon each worker, and the
  // restarts in the version-skew policy's order, all order-only; none of it when the version is unchanged.
  // A change the policy forbids never gets here: configure refuses it (tasks/config/spec.ts).
  const upgrade = upgradeView(config, context?.recorded);
  const upgrades = upgrade.steps.length
    ? upgradeTargets({
        ctx: cluster.ctx,
        steps: upgrade.steps,
        byName: new Map(registered.map((t) => [t.name, t])),
        kubectl: binaries.kubectl,
        adminKubeconfig: certs.kubeconfigs.byId['admin']!,
        apiserverReady: cluster.controlPlane.ready,
        kubeletHealth: kubeletHealth(cluster.ctx),
        kubeProxyHealth: kubeProxyHealth(cluster.ctx),
      })
    : [];
  for (const step of upgrades) cluster.cluster.deps[step.name] = step;
  return [...registered, ...upgrades];
}

/** After a successful build of `cluster` (or of host:kubeconfig): how to use kubectl now, one line. */
export function projectNotes(config: ClusterConfig, report: BuildReport, program: string): string[] {
  const done = (name: string) => ['built', 'up-to-date'].includes(report.entries[name]?.outcome ?? '');
  if (!done('cluster') && !done(HOST_KUBECONFIG_TARGET)) return [];
  const notes = kubectlHint(config, done(HOST_KUBECONFIG_TARGET) ? (report.entries[HOST_KUBECONFIG_TARGET]!.result as HostKubeconfigResult) : undefined, program);
  // Where the Ingress controller answers, and the /etc/hosts lines for its names (printed, never written).
  const ingress = report.entries['addon:ingress']?.result as IngressResult | undefined;
  if (done('addon:ingress') && ingress?.address) notes.push(...ingressNotes(config, ingress));
  return notes;
}

/**
 * Parametrised commands of the CLI (tasks.ts): `load <image…>` loads local images into the worker nodes;
 * `kubectl <args…>` runs the built kubectl with the admin kubeconfig; `logs` collects a bundle of the
 * nodes' and the cluster's logs (tasks/logs); `conformance` runs the upstream e2e suite (tasks/conformance);
 * `certs:renew` re-issues the leaf certificates close to expiry (tasks/certs/renew.ts).
 */
export function projectCommands(): Record<string, ProjectCommand<ClusterConfig>> {
  return { load: loadCommand(), kubectl: kubectlCommand, logs: logsCommand(), conformance: conformanceCommand(), [RENEW_COMMAND]: renewCommand() };
}

/** The upgrade's plan as the run prints it before building (tasks.ts `record`), or nothing when the version is unchanged. */
export function upgradePlanLines(config: ClusterConfig, outDir: string, dryRun: boolean): string[] {
  const records = recordedTargets(outDir);
  const lines = [...etcdPlan(config, records), ...describePlan(upgradeView(config, records).steps)];
  if (lines.length && dryRun) lines.push('  (dry run: nothing is drained, installed or restarted)');
  return lines;
}
