// The project's target graph: composes each step's targets from the cluster config. Each step module
// exports a function that takes the config and the targets it builds on, and returns its own targets
// (typed, so a later step can depend on a specific earlier target) plus `all`, the list to register.

import type { AnyTarget } from '../lib/engine/target.ts';
import type { ClusterConfig } from './config/config.ts';
import { ipPlanTarget, planIps } from './net/ip-plan.ts';
import { certsStep } from './certs/index.ts';
import { nodesStep } from './nodes/index.ts';
import { binariesTargets } from './binaries/index.ts';
import { corednsImageFor, imagesTargets, loadCommand, loadsAfterRuntime, pauseImageFor, TEST_IMAGE, TEST_IMAGE_PORT } from './images/cluster-images.ts';
import type { ProjectCommand } from '../lib/cli/index.ts';
import type { TargetsContext } from '../lib/cli/project.ts';
import { nodeRemovalTargets } from './nodes/removal.ts';
import { clusterStep, imageLoadsByName } from './cluster/index.ts';

/** Every target of the project for one cluster config. The CLI registers these. */
export function projectTargets(config: ClusterConfig, context?: TargetsContext): AnyTarget[] {
  // Every address, computed once for this graph: each step that needs one gets this plan, and
  // `net:plan` returns this very object (one source of truth).
  const plan = planIps(config);
  const planTarget = ipPlanTarget(config, plan);
  // Steps are added here in build order; each receives the earlier steps' targets it needs.
  const certs = certsStep(config, plan);
  const nodes = nodesStep(config, plan);
  const binaries = binariesTargets(config);
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
    pki: certs.pki,
    kubeconfigs: certs.kubeconfigs.byId,
    encryption: certs.encryption,
    images: {
      pause: pauseImageFor(config.kubernetesVersion),
      coredns: corednsImageFor(config.kubernetesVersion),
      test: TEST_IMAGE,
      testPort: TEST_IMAGE_PORT,
      loads: imageLoadsByName(images.loads, { pause: 'pause', coredns: 'coredns', test: 'echo' }),
    },
  });
  loadsAfterRuntime(images.loads, (node) => cluster.workers.containerd[node]);
  // A recorded node no longer in the config is removed by its own (destructive) target, part of `cluster`.
  const removals = nodeRemovalTargets(config, context?.recorded, { kubectl: binaries.kubectl, adminKubeconfig: certs.kubeconfigs.byId['admin']!, apiserverReady: cluster.controlPlane.ready });
  for (const removal of removals) cluster.cluster.deps[removal.name] = removal;
  return [planTarget, ...certs.all, ...nodes.all, ...binaries.all, ...images.all, ...cluster.all, ...removals];
}

/** Parametrised commands of the CLI (tasks.ts): `load <image…>` loads local images into the worker nodes. */
export function projectCommands(): Record<string, ProjectCommand<ClusterConfig>> {
  return { load: loadCommand() };
}
