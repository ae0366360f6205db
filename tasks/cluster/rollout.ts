// One node at a time: when a component's unit must restart on several nodes (a renewed certificate, a new
// binary, a changed flag), node N+1's unit restarts only once node N's is back in service. The ordering is
// part of the graph, not a script: after `rollOneAtATime(units, health)` each node's unit target has an
// order-only dependency (`orderOnly.rollout`, lib/engine/target.ts) on `rollout:<previous node>:<unit>`, a
// target that depends on the previous node's unit and stands for "that unit is healthy again". `--graph`
// draws the chain (dashed) and `--explain` says why a gate waits (its probe's reason).
//
// Why a gate target rather than the unit itself waiting for health:
// - Order-only: the next node's unit key never reads the gate, so the gate orders and never triggers a
//   restart, adding or removing a node (and its gate) leaves the other units' keys alone, and a gate that
//   would wait in a dry run does not make the next unit look stale.
// - Its probe is the health check, read-only. A no-op run asks it once per gate; after the previous unit
//   restarted in this run its probe reads afresh and, while that unit is still coming back (activating,
//   a job queued, its health endpoint not answering), says so, and the gate's build waits (bounded).
// - A gate that fails (the previous node never came back) skips the next node's unit: a bad change stops
//   after the first node instead of taking every node down.
//
// Restarts only, not first starts. A gate that has never been built waits for nothing: the unit is being
// started for the first time (a new cluster, a new node), there is no service yet to keep available, and
// waiting would be wrong as well as slow: an etcd member is only healthy once a quorum has started, so a
// fresh 3-member etcd whose second member waited for the first one's health would never come up. The
// ordering edge stays (the graph is static), so on a fresh cluster the units of one component start one
// after the other, each as soon as the previous one is active, without the health waits (the cost is
// measured in tasks/cluster/README.md).

import { target, type AnyTarget, type ArtefactContext, type Target } from '../../lib/engine/target.ts';
import { declareNodeReads } from '../../lib/node/fleet.ts';
import { readOnlyView, type NodeHandle, type UnitState } from '../../lib/node/handle.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import type { UnitTarget } from './context.ts';
import { NotReadyError } from './errors.ts';
import { journalTail, sleep, type RunningUnit } from './node-targets.ts';

/** How to tell that a component's unit on one node is back in service. */
export type UnitHealth = {
  /** What healthy means, for descriptions: `its /readyz answers 200`. */
  what: string;
  /**
   * One look, read-only (`node` is a read-only view): undefined when healthy, else what is not yet
   * (`/readyz answered 503`). Called only once systemd reports the unit active with no job queued;
   * `state` is that report (with when the unit became active), so a check need not exec to ask again.
   */
  check(node: NodeHandle, unit: RunningUnit, ctx: ArtefactContext, state: UnitState): Promise<string | undefined>;
};

/** `rollout:<node>:<unit>`: the unit on that node is back in service; the next node's unit is ordered after it. */
export type RolloutGate = Target<RunningUnit, { unit: UnitTarget }>;

export type RolloutOptions = {
  /** How long a gate's build waits for health before it fails (default 180 s). */
  timeoutMs?: number;
  /** Between two looks (default 1 s). */
  pollMs?: number;
};

/** systemd's side of "back in service": active, and no start or restart job still queued (`restart --no-block`). */
export function unitSettled(unit: string, node: string, state: UnitState | undefined): string | undefined {
  if (!state) return `${unit} is unknown on ${node}`;
  if (state.active !== 'active') return `${unit} on ${node} is ${state.sub ? `${state.active} (${state.sub})` : state.active}`;
  if (state.job) return `${unit} on ${node} has a job queued`;
  return undefined;
}

/**
 * One look at the unit: systemd's state from the run's batched read of the node (`fresh`: read again, for
 * a wait that polls; the run's shared read is from before the unit restarted), then the component's own check.
 */
async function lookAt(result: RunningUnit, health: UnitHealth, ctx: ArtefactContext, fresh = false): Promise<string | undefined> {
  const fleet = nodeFleet.of(ctx);
  if (fresh) fleet.changed(result.container);
  const state = (await fleet.declared(result.node, result.container)).units.get(result.unit);
  const unsettled = unitSettled(result.unit, result.node, state);
  if (unsettled || !state) return unsettled;
  return health.check(readOnlyView(fleet.node(result.container)), result, ctx, state);
}

/**
 * Looks at the unit until it is back in service or `timeoutMs` has passed: undefined once healthy, else
 * the last look's reason. The first look may use the run's shared read (`firstFresh: false`, as a gate
 * whose probe just read it); every later one reads systemd afresh.
 */
export async function waitInService(running: RunningUnit, health: UnitHealth, ctx: ArtefactContext, o: { timeoutMs: number; pollMs?: number; firstFresh?: boolean }): Promise<string | undefined> {
  const deadline = performance.now() + o.timeoutMs;
  let last = await lookAt(running, health, ctx, o.firstFresh ?? false);
  while (last !== undefined && performance.now() <= deadline) {
    await sleep(o.pollMs ?? 1000, ctx.signal);
    last = await lookAt(running, health, ctx, true);
  }
  return last;
}

/** The gate after one node's unit. Exported for tests; use rollOneAtATime. */
export function rolloutGate(unit: UnitTarget, health: UnitHealth, options: RolloutOptions = {}): RolloutGate {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const pollMs = options.pollMs ?? 1000;
  const { node, unit: name } = unitNameOf(unit);
  const gate = target({
    name: `rollout:${node}:${name}`,
    description: `${name} on ${node} is back in service (${health.what}) before the next node's ${name} restarts`,
    deps: { unit },
    build: async (ctx): Promise<RunningUnit> => {
      const running = ctx.deps.unit;
      if (ctx.previous === undefined) {
        ctx.log(`first start of ${name} on ${node}: nothing in service to keep, the next node does not wait for its health`);
        return running;
      }
      const last = await waitInService(running, health, ctx, { timeoutMs, pollMs });
      if (last !== undefined) {
        const journal = await journalTail(nodeFleet.of(ctx).node(running.container), `${name}.service`);
        throw new NotReadyError(
          `${node}: ${name} is not back in service after ${timeoutMs / 1000} s (${last}), so its restart on the next node was not started; its last journal lines:\n${journal}`,
          `fix ${name} on ${node} (\`docker exec ${running.container} journalctl -u ${name}\`), then run again: the rollout goes on from there`,
        );
      }
      ctx.log(`${name} on ${node} is back in service (${health.what})`);
      return running;
    },
    probe: (result, ctx) => lookAt(result, health, ctx),
  });
  return declareNodeReads(gate, { node, units: [name] });
}

/** The node and unit a `unit:<node>:<unit>` target runs (its name is the only place the factory leaves them). */
function unitNameOf(unit: AnyTarget): { node: string; unit: string } {
  const match = /^unit:([^:]+):(.+)$/.exec(unit.name);
  if (!match) throw new Error(`rollout: ${unit.name} is not a unit:<node>:<unit> target`);
  return { node: match[1]!, unit: match[2]! };
}

/**
 * Orders `units` (the same component's unit on each node, in rollout order) one node at a time: each
 * unit after the previous one's gate. Returns the gates, to register; the last node has none (nothing
 * waits for it here; the cluster's own readiness targets check it).
 */
export function rollOneAtATime(units: UnitTarget[], health: UnitHealth, options: RolloutOptions = {}): RolloutGate[] {
  const names = new Set(units.map((u) => unitNameOf(u).unit));
  if (names.size > 1) throw new Error(`rollout: one component at a time, got ${[...names].join(', ')}`);
  const gates: RolloutGate[] = [];
  for (let i = 1; i < units.length; i++) {
    const gate = rolloutGate(units[i - 1]!, health, options);
    units[i]!.orderOnly = { ...units[i]!.orderOnly, rollout: gate };
    gates.push(gate);
  }
  return gates;
}
