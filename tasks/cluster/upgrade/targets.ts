// The upgrade's own targets, registered only in a run whose spec changes the Kubernetes version of a running
// cluster (so a run without a version change has none of them: nothing to build, no drain), and the
// order-only edges that put the restarts in the version-skew policy's order (skew.ts):
//
//   unit:<cp>:kube-apiserver (one at a time: rollout gates)  →  unit:<cp>:kube-controller-manager, unit:<cp>:kube-scheduler
//     →  upgrade:<worker>:drain  →  install:<worker>:kubelet|kube-proxy, unit:<worker>:containerd|kubelet|kube-proxy
//     →  upgrade:<worker>:uncordon  →  the next worker's upgrade:<worker>:drain
//
// Every edge added to an existing target is order-only (lib/engine/target.ts): it orders the run and is no
// part of any key, so adding these targets for one run and dropping them on the next changes nothing else.
// The restarts themselves are the existing unit targets, stale because their binary changed.

import { target, type AnyTarget, type Target } from '../../../lib/engine/target.ts';
import type { BinaryResult } from '../../binaries/index.ts';
import { kubeconfigPath } from '../../certs/kubeconfig.ts';
import type { ClusterContext } from '../context.ts';
import { ClusterError } from '../errors.ts';
import { rootPath, type RunningUnit } from '../node-targets.ts';
import { waitInService, type UnitHealth } from '../rollout.ts';
import type { PlanStep } from './skew.ts';

/** How long a drain may take before the upgrade stops (the node left cordoned, its kubelet not restarted). */
export const UPGRADE_DRAIN_TIMEOUT_S = 300;
/** How long the uncordon waits for the new kubelet and kube-proxy to be back. */
export const UPGRADE_READY_TIMEOUT_S = 180;

export type UpgradeInputs = {
  ctx: ClusterContext;
  steps: readonly PlanStep[];
  /** Every registered target by name: the units and binary installs the edges go on. */
  byName: ReadonlyMap<string, AnyTarget>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  kubectl: Target<BinaryResult, any>;
  adminKubeconfig: AnyTarget;
  apiserverReady: AnyTarget;
  kubeletHealth: UnitHealth;
  kubeProxyHealth: UnitHealth;
};

const need = (byName: ReadonlyMap<string, AnyTarget>, name: string): AnyTarget => {
  const t = byName.get(name);
  if (!t) throw new Error(`upgrade: no target ${name} in the graph`);
  return t;
};

/** Adds an order-only dependency (never part of the key). */
function orderAfter(t: AnyTarget, alias: string, before: AnyTarget): void {
  t.orderOnly = { ...t.orderOnly, [alias]: before };
}

/**
 * The drain and uncordon targets of each worker the plan upgrades, and the order-only edges of every
 * restart the plan names. Returns the new targets, to register.
 */
export function upgradeTargets(inputs: UpgradeInputs): AnyTarget[] {
  const { ctx, steps, byName } = inputs;
  const restarts = steps.filter((s) => s.kind === 'restart');
  if (steps.length === 0) return [];
  const to = restarts[0]?.to ?? ctx.config.kubernetesVersion;
  const units = (phase: number) => restarts.filter((s) => s.phase === phase).map((s) => need(byName, s.target));
  const apiservers = units(1);
  const controllers = units(2);
  // Phase 2 after every apiserver (already so through cluster:apiserver-ready; said here too, for --graph).
  for (const unit of controllers) for (const before of apiservers) orderAfter(unit, `upgrade:after:${before.name}`, before);
  const out: AnyTarget[] = [];
  let previous: AnyTarget | undefined;
  for (const node of [...new Set(steps.filter((s) => s.kind === 'uncordon').map((s) => s.node))]) {
    // No drain step: an earlier run drained this worker and stopped before its uncordon; only that is left.
    const drains = steps.some((s) => s.kind === 'drain' && s.node === node);
    const from = [...new Set(restarts.filter((s) => s.node === node).map((s) => s.from))].join(', ');
    const kubelet = need(byName, `unit:${node}:kubelet`) as Target<RunningUnit, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const proxy = need(byName, `unit:${node}:kube-proxy`) as Target<RunningUnit, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const kubectlDeps = { kubectl: inputs.kubectl, admin: inputs.adminKubeconfig, apiserver: inputs.apiserverReady };
    const drain = !drains ? undefined : target({
      name: `upgrade:${node}:drain`,
      description: `Upgrade ${node} ${from} → ${to}: cordon and drain it (evictions: PodDisruptionBudgets respected), after every control plane and the worker before it`,
      deps: kubectlDeps,
      inputs: { values: { node, from, to, drainTimeoutS: UPGRADE_DRAIN_TIMEOUT_S } },
      build: async (bctx): Promise<{ node: string; drained: string }> => {
        const kubectl = await kubectlFor(ctx, bctx.root, bctx.deps.kubectl.path);
        bctx.log(`cordoning ${node}`);
        await kubectl(['cordon', node], { signal: bctx.signal });
        bctx.log(`draining ${node} (evictions, at most ${UPGRADE_DRAIN_TIMEOUT_S} s)`);
        const { drainNode } = await import('../kubectl.ts');
        const failed = await drainNode(kubectl, node, UPGRADE_DRAIN_TIMEOUT_S, bctx.signal);
        if (failed) {
          throw new ClusterError(
            `draining ${node} for its upgrade to ${to} did not finish within ${UPGRADE_DRAIN_TIMEOUT_S} s (kubectl drain exited ${failed.exitCode}); ${node} is left cordoned, its kubelet and kube-proxy still run ${from}:\n${failed.last}`,
            `see what blocks the evictions (kubectl get pdb -A; kubectl get pods -A -o wide --field-selector spec.nodeName=${node}), then run again: the upgrade goes on from ${node}`,
          );
        }
        return { node, drained: to };
      },
    });
    // After every control-plane restart of the plan, and after the worker before this one is back.
    if (drain) {
      for (const before of [...apiservers, ...controllers]) orderAfter(drain, `after:${before.name}`, before);
      if (previous) orderAfter(drain, 'previous', previous);
    }
    // What restarts on this worker waits for its drain: the new binaries are put in place, and the
    // runtime (a new sandbox image) and the kubelet and kube-proxy restarted, only on the drained node.
    for (const name of [`install:${node}:kubelet`, `install:${node}:kube-proxy`, `unit:${node}:containerd`, `unit:${node}:kubelet`, `unit:${node}:kube-proxy`]) {
      const t = byName.get(name);
      if (t && drain) orderAfter(t, 'upgrade:drain', drain);
    }
    const uncordon = target({
      name: `upgrade:${node}:uncordon`,
      description: `Upgrade ${node} → ${to}: once its new kubelet reports the Node Ready and kube-proxy answers, uncordon it (the next worker drains after this)`,
      deps: { ...kubectlDeps, kubelet, proxy, ...(drain ? { drain } : {}) },
      inputs: { values: { node, from, to } },
      build: async (bctx): Promise<{ node: string; version: string }> => {
        for (const [unit, health] of [[bctx.deps.kubelet, inputs.kubeletHealth], [bctx.deps.proxy, inputs.kubeProxyHealth]] as const) {
          const last = await waitInService(unit, health, bctx, { timeoutMs: UPGRADE_READY_TIMEOUT_S * 1000, firstFresh: true });
          if (last !== undefined) {
            throw new ClusterError(
              `${node}: ${unit.unit} is not back after its upgrade to ${to} within ${UPGRADE_READY_TIMEOUT_S} s (${last}); ${node} is left cordoned`,
              `docker exec ${unit.container} journalctl -u ${unit.unit} -n 50; once it is fixed, run again (the next worker waits for this one)`,
            );
          }
          bctx.log(`${unit.unit} on ${node} is back (${health.what})`);
        }
        const kubectl = await kubectlFor(ctx, bctx.root, bctx.deps.kubectl.path);
        await kubectl(['uncordon', node], { signal: bctx.signal });
        bctx.log(`uncordoned ${node}: it runs kubelet and kube-proxy ${to}`);
        // Steps of this upgrade only: no record is kept, so the next upgrade of this node drains it again.
        bctx.forget?.([`upgrade:${node}:drain`, `upgrade:${node}:uncordon`]);
        return { node, version: to };
      },
    });
    out.push(...(drain ? [drain] : []), uncordon);
    previous = uncordon;
  }
  return out;
}

async function kubectlFor(ctx: ClusterContext, root: string, binary: string) {
  const { kubectlRunner } = await import('../kubectl.ts');
  return kubectlRunner(rootPath(root, binary), rootPath(root, kubeconfigPath(ctx.config, 'admin')));
}
