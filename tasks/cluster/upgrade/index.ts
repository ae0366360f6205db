// A Kubernetes version change of a running cluster, in one `cluster` run (docs/day-two.md, "Upgrading
// Kubernetes"): the policy (skew.ts), what runs now (running.ts), the targets and edges (targets.ts).

import { controlPlanes, etcdVersionOf, workers, type ClusterConfig } from '../../config/config.ts';
import { recordedNodes, recordedVersionOf, runningComponents, runningVersions, type Records } from './running.ts';
import { describePlan, skewRefusal, upgradePlan, type PlanStep, type RunningComponents, type SkewRefusal } from './skew.ts';
import { etcdPlanLines, etcdSkewRefusal, runningEtcd } from './etcd.ts';

export type UpgradeView = { running: RunningComponents; versions: string[]; steps: PlanStep[]; refusal: SkewRefusal | undefined };

/** What the records say the cluster runs, whether the spec's version may follow, and the plan if so. */
export function upgradeView(config: ClusterConfig, records: Records | undefined, cacheRoot?: string): UpgradeView {
  if (!records) return { running: {}, versions: [], steps: [], refusal: undefined };
  const running = runningComponents(config.nodes, records, recordedVersionOf(records, cacheRoot));
  const versions = runningVersions(running);
  const refusal = skewRefusal(versions, config.kubernetesVersion);
  const workerNames = workers(config).map((n) => n.name);
  // A drain recorded and never followed by its uncordon (which forgets both): an upgrade interrupted on that worker.
  const drained = workerNames.filter((w) => records.result(`upgrade:${w}:drain`) !== undefined);
  const steps = refusal ? [] : upgradePlan({ controlPlanes: controlPlanes(config).map((n) => n.name), workers: workerNames }, running, config.kubernetesVersion, drained);
  return { running, versions, steps, refusal };
}

export { describePlan, skewRefusal, upgradePlan };

/**
 * The refusal `configure` raises before anything else (tasks/config/spec.ts): the spec's version against
 * what every node the records know runs (whatever the spec now says about the nodes). One line.
 */
export function skewRefusalLine(wanted: string, records: Records & { names(): string[] }, shownAs: string, cacheRoot?: string): string | undefined {
  const running = runningComponents(recordedNodes(records.names()), records, recordedVersionOf(records, cacheRoot));
  const refusal = skewRefusal(runningVersions(running), wanted);
  return refusal ? `${shownAs}: kubernetesVersion: ${refusal.problem} (recorded by its last runs); ${refusal.valid}` : undefined;
}

/** The same for etcd: `wanted` (the resolved release, `setting` as the spec says it) against what the control planes run. */
export function etcdSkewRefusalLine(wanted: string, setting: string, records: Records & { names(): string[] }, shownAs: string, cacheRoot?: string): string | undefined {
  const refusal = etcdSkewRefusal(Object.values(runningEtcd(records, cacheRoot)), wanted);
  const shown = setting === 'auto' ? `auto (${wanted} for its kubernetesVersion)` : setting;
  return refusal ? `${shownAs}: etcdVersion: ${shown}: ${refusal.problem} (recorded by its last runs); ${refusal.valid}` : undefined;
}

/** The etcd line of the plan: which members move from which version (none when etcd is unchanged). */
export function etcdPlan(config: ClusterConfig, records: (Records & { names(): string[] }) | undefined, cacheRoot?: string): string[] {
  if (!records) return [];
  return etcdPlanLines(runningEtcd(records, cacheRoot), etcdVersionOf(config), controlPlanes(config).map((n) => n.name));
}
