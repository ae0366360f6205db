// The version-skew policy (https://kubernetes.io/releases/version-skew-policy/) as it applies to an upgrade
// done in one `cluster` run, the pure part: which Kubernetes version a running cluster may move to, and the
// order the components move in. The targets that carry it out are in targets.ts; what runs now comes from
// the last runs' records (running.ts).
//
// What the policy says, and what follows for one run that moves every component:
// - kube-apiserver instances of an HA cluster may be at most one minor apart; controller-manager and
//   scheduler may not be newer than the apiservers they talk to (and up to one minor older); kubelet and
//   kube-proxy may not be newer than the apiservers. So the apiservers go first, one control plane at a
//   time, then controller-manager and scheduler, then each worker's kubelet and kube-proxy.
// - Upgrades go one minor at a time ("upgrade from 1.33 to 1.34, then 1.35"; kubeadm refuses to skip a
//   minor), and a downgrade to an older minor is not supported. A patch change within a minor, up or
//   down, is allowed (kubeadm allows patch-level downgrades within a minor).
// A cluster caught half-way (an interrupted upgrade: apiservers at 1.34, kubelets at 1.33) may only go on
// to the newest minor it runs: every component then moves at most one minor.

/** A release version `vMAJOR.MINOR.PATCH`, parsed; undefined when it is not one. */
export type Release = { major: number; minor: number; patch: number };

export function parseRelease(version: string): Release | undefined {
  const match = /^v(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return match ? { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) } : undefined;
}

/** Orders releases: negative when a is older than b. */
export function compareReleases(a: Release, b: Release): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

const minorOf = (r: Release): string => `v${r.major}.${r.minor}`;
const show = (r: Release): string => `v${r.major}.${r.minor}.${r.patch}`;

/** Why moving a cluster running `running` (its components' versions) to `wanted` is refused: what is wrong, and what is allowed. */
export type SkewRefusal = { problem: string; valid: string };

/**
 * The policy's verdict on moving every component from the versions it runs (`running`, any order,
 * duplicates allowed) to `wanted`: undefined when allowed (nothing runs yet, a patch change, or one minor
 * up), else why not and what would be allowed.
 */
export function skewRefusal(running: readonly string[], wanted: string): SkewRefusal | undefined {
  const want = parseRelease(wanted);
  const have = running.map(parseRelease).filter((r): r is Release => r !== undefined);
  if (!want || have.length === 0) return undefined;
  have.sort(compareReleases);
  const oldest = have[0]!;
  const newest = have[have.length - 1]!;
  const runs = show(oldest) === show(newest) ? `the cluster runs ${show(oldest)}` : `the cluster runs ${show(oldest)} to ${show(newest)} (an upgrade left half-way)`;
  // One minor at a time and never back across a minor: every component ends at most one minor above
  // what it runs, and none below its own minor. So the minor must be the newest one running, or, when
  // every component runs the same minor, one above it.
  const lowest = newest.minor;
  const highest = oldest.minor + 1;
  const allowed =
    newest.major !== oldest.major || lowest > highest
      ? 'none in one run'
      : lowest === highest
        ? `a ${minorOf({ ...newest, minor: lowest })} release (finish the upgrade to it first)`
        : `a ${minorOf(newest)} patch release (up or down) or a ${minorOf({ ...newest, minor: highest })} release (one minor up)`;
  const valid = `the version-skew policy allows one minor up at a time and no downgrade across minors: use ${allowed}, and each further minor in a run of its own`;
  if (want.major !== oldest.major || want.major !== newest.major) return { problem: `${wanted} changes the major version: ${runs}`, valid };
  if (want.minor > highest) {
    const skipped = Array.from({ length: want.minor - highest }, (_, i) => `v${want.major}.${highest + i}`).join(', ');
    return { problem: `${wanted} skips ${skipped}: ${runs}`, valid };
  }
  if (want.minor < lowest) return { problem: `${wanted} is a downgrade across minors: ${runs}`, valid };
  return undefined;
}

/** The components an upgrade moves, in the policy's order. */
export const CONTROL_PLANE_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export const WORKER_COMPONENTS = ['kubelet', 'kube-proxy'] as const;
export type Component = (typeof CONTROL_PLANE_COMPONENTS)[number] | (typeof WORKER_COMPONENTS)[number];

/** What each node runs now, by component: a version, or absent when nothing was recorded (a node not yet built). */
export type RunningComponents = Record<string, Partial<Record<Component, string>>>;

export type PlanStep =
  | { kind: 'restart'; phase: 1 | 2 | 3; node: string; component: Component; from: string; to: string; target: string }
  | { kind: 'drain' | 'uncordon'; phase: 3; node: string; target: string };

/**
 * The upgrade as the run will do it, in order: phase 1 each control plane's apiserver (one at a time, each
 * back at /readyz before the next), phase 2 controller-manager and scheduler (each component one control
 * plane at a time), phase 3 each worker in turn: drain, its kubelet and kube-proxy, uncordon once Ready.
 * Only components that run another version than `to` appear; a node with nothing recorded is being
 * started for the first time, not upgraded, and a worker with nothing to change is not drained.
 */
export function upgradePlan(
  nodes: { controlPlanes: readonly string[]; workers: readonly string[] },
  running: RunningComponents,
  to: string,
  /** Workers an earlier, interrupted run drained and did not uncordon: they get their uncordon even with nothing left to restart. */
  drained: readonly string[] = [],
): PlanStep[] {
  const steps: PlanStep[] = [];
  const restart = (phase: 1 | 2 | 3, node: string, component: Component): PlanStep[] => {
    const from = running[node]?.[component];
    return from !== undefined && from !== to ? [{ kind: 'restart', phase, node, component, from, to, target: `unit:${node}:${component}` }] : [];
  };
  for (const node of nodes.controlPlanes) steps.push(...restart(1, node, 'kube-apiserver'));
  for (const component of ['kube-controller-manager', 'kube-scheduler'] as const) for (const node of nodes.controlPlanes) steps.push(...restart(2, node, component));
  for (const node of nodes.workers) {
    const restarts = WORKER_COMPONENTS.flatMap((component) => restart(3, node, component));
    if (restarts.length === 0) {
      if (drained.includes(node)) steps.push({ kind: 'uncordon', phase: 3, node, target: `upgrade:${node}:uncordon` });
      continue;
    }
    steps.push({ kind: 'drain', phase: 3, node, target: `upgrade:${node}:drain` }, ...restarts, { kind: 'uncordon', phase: 3, node, target: `upgrade:${node}:uncordon` });
  }
  return steps;
}

/** The plan as the run prints it (`--dry-run --explain`, and before a real run's upgrade): one line per step. */
export function describePlan(steps: readonly PlanStep[]): string[] {
  if (steps.length === 0) return [];
  const froms = [...new Set(steps.flatMap((s) => (s.kind === 'restart' ? [s.from] : [])))].sort();
  const to = steps.find((s) => s.kind === 'restart')?.to;
  const lines = [to ? `upgrade: Kubernetes ${froms.join(', ')} → ${to}, in this order (the version-skew policy's):` : 'upgrade: finishing an interrupted upgrade:'];
  const phases = { 1: 'apiservers, one control plane at a time', 2: 'controller-manager and scheduler', 3: 'workers, one at a time' };
  let phase = 0;
  let n = 0;
  for (const step of steps) {
    if (step.phase !== phase) {
      phase = step.phase;
      lines.push(`  phase ${phase}: ${phases[step.phase]}`);
    }
    n++;
    if (step.kind === 'restart') lines.push(`    ${n}. ${step.node}: ${step.component} ${step.from} → ${step.to} (${step.target})`);
    else if (step.kind === 'drain') lines.push(`    ${n}. ${step.node}: cordon, drain (PodDisruptionBudgets respected) (${step.target})`);
    else lines.push(`    ${n}. ${step.node}: uncordon once its kubelet and kube-proxy are back (Node Ready) (${step.target})`);
  }
  return lines;
}
