// The cluster step: etcd, control plane, workers, networking, add-ons, readiness, and `cluster:smoke`.
// `cluster` is the alias for a working cluster with every node Ready and CoreDNS available.

import { alias, type AnyTarget } from '../../lib/engine/target.ts';
import { clusterContext, type ClusterImages, type ClusterStepInputs } from './context.ts';
import { controlPlaneTargets } from './control-plane.ts';
import { addonTargets } from './dns.ts';
import { etcdTargets } from './etcd.ts';
import { nodeSystemTargets } from './node-system.ts';
import { rollOneAtATime } from './rollout.ts';
import { apiserverHealth, containerdHealth, controllerManagerHealth, etcdHealth, kubeletHealth, kubeProxyHealth, schedulerHealth } from './unit-health.ts';
import { smokeTarget } from './smoke.ts';
import type { SmokeAddonCheck } from './smoke-checks.ts';
import { workerTargets } from './workers.ts';

/** Finds the images step's `load:<image>@<node>` target for each image the cluster runs. */
export function imageLoadsByName(loads: AnyTarget[], names: { pause: string; coredns: string; test: string }): ClusterImages['loads'] {
  const byName = new Map(loads.map((t) => [t.name, t]));
  return (image, node) => {
    const name = `load:${names[image]}@${node}`;
    const t = byName.get(name);
    if (!t) throw new Error(`cluster: the images step has no target ${name}`);
    return t;
  };
}

export function clusterStep(inputs: ClusterStepInputs) {
  const ctx = clusterContext(inputs);
  const etcd = etcdTargets(ctx);
  const system = nodeSystemTargets(ctx);
  const controlPlane = controlPlaneTargets(ctx, etcd.healthy, etcd.binaries);
  const workers = workerTargets(ctx, { apiserverReady: controlPlane.ready, sysctl: system.sysctl, routes: system.routes });
  // Every long-running component restarts one node at a time (rollout.ts). The oneshot setup units
  // (node-sysctl, pod-routes, kubelet-prepare) are left out: re-running them interrupts nothing.
  const rollouts = [
    ...rollOneAtATime(Object.values(etcd.units), etcdHealth),
    ...rollOneAtATime(controlPlane.units['kube-apiserver'], apiserverHealth(ctx)),
    ...rollOneAtATime(controlPlane.units['kube-controller-manager'], controllerManagerHealth(ctx)),
    ...rollOneAtATime(controlPlane.units['kube-scheduler'], schedulerHealth(ctx)),
    ...rollOneAtATime(workers.units.containerd, containerdHealth),
    ...rollOneAtATime(workers.units.kubelet, kubeletHealth(ctx)),
    ...rollOneAtATime(workers.units['kube-proxy'], kubeProxyHealth(ctx)),
  ];
  const addons = addonTargets(ctx, { apiserverReady: controlPlane.ready, nodesReady: { ...workers.ready, ...controlPlane.components } });
  const cluster = alias('cluster', 'A working cluster: etcd, control plane, every worker Ready, CoreDNS available', [
    etcd.healthy,
    controlPlane.ready,
    ...Object.values(controlPlane.components),
    ...Object.values(system.sysctl),
    ...Object.values(system.routes),
    ...Object.values(workers.ready),
    addons.rbac,
    addons.coredns,
  ]);
  // Filled by the add-ons step (tasks/index.ts) with the checks of the add-ons that are on; read when the smoke test runs.
  const addonChecks: SmokeAddonCheck[] = [];
  const smoke = smokeTarget(ctx, { cluster, addonChecks });
  const all: AnyTarget[] = [...etcd.all, ...system.all, ...controlPlane.all, ...workers.all, ...rollouts, ...addons.all, cluster, smoke];
  return { ctx, cluster, smoke, addonChecks, etcd, controlPlane, workers, rollouts, addons, all };
}
