// Target factories for what the cluster puts on nodes: an installed file, an installed binary, a running
// systemd unit. Each declares what it puts on its node, and its probe reads the run's batched read of that
// node (lib/node/fleet.ts), so a file edited by hand or a unit that died makes exactly that target stale.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { target, type AnyTarget, type ArtefactContext, type Inputs, type Json, type Target } from '../../lib/engine/target.ts';
import { declareNodeReads } from '../../lib/node/fleet.ts';
import { readOnlyView, type NodeHandle, type NodeState, type UnitState } from '../../lib/node/handle.ts';
import { SYSTEMCTL_SHOW_UNITS, parseUnitBlocks } from '../../lib/node/read-state.ts';
import type { BinaryResult } from '../binaries/index.ts';
import type { NodeTarget } from '../nodes/containers.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { UnitFailedError } from './errors.ts';

/** What the cluster step reads of a `node:<name>` result (the nodes step owns the full type: NodeContainer). */
export type NodeInfo = { name: string; container: string; ip: string };

/** A binaries step target: its result is the cached binary's path and sha256. */
type BinaryTarget = Target<BinaryResult, any>;

export type InstalledFile = {
  node: string;
  container: string;
  path: string;
  sha256: string;
  mode: number;
  /** Binaries only: `size mtime` on the node right after the copy; the probe compares it instead of hashing. */
  stamp?: string;
};

/**
 * The same after every restart on purpose: units that are only ordered after this one (`after`) must not
 * restart with it. Restarts are driven by each unit's own files, which are in its key.
 */
export type RunningUnit = {
  node: string;
  container: string;
  unit: string;
};

export function sha256(content: Buffer | string): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Resolves a path from another step's result: absolute as is, otherwise relative to the project root. */
export function rootPath(root: string, path: string): string {
  return isAbsolute(path) ? path : join(root, path);
}

type Source =
  /** Rendered text, known when the graph is built: its hash is part of the key. */
  | { text: string }
  /** A file another target writes, relative to the root; hashed by content through `inputs.files`. */
  | { file: string; from: AnyTarget };

export type FileSpec = {
  node: string;
  nodeTarget: NodeTarget;
  /** Short id: the target is `install:<node>:<id>`. */
  id: string;
  path: string;
  mode?: number;
  description: string;
  source: Source;
  /** Config values the rendered text comes from, shown by `--explain` (from → to) when they change. */
  values?: Record<string, Json>;
  /**
   * Installed first, order only (a unit file after the binary it names, so the node never has one without
   * the other; their results are not part of this file's key).
   */
  after?: Record<string, AnyTarget>;
};

/**
 * An install target's dependencies: the node, and the target that writes the source file. The file is
 * hashed too, and that target's result counts like every dependency's: a renewed certificate's result
 * changes, so its key's install runs again and rewrites the same bytes (nothing downstream restarts: the
 * install's result is the content's hash). A dependency kind keyed by the file alone would save that
 * write, but it must still make a dry run say "would build" while its producer would rebuild.
 */
type FileDeps = { node: NodeTarget; source?: AnyTarget };

export function fileTarget(spec: FileSpec) {
  const mode = spec.mode ?? 0o644;
  const deps: FileDeps = { node: spec.nodeTarget };
  const inputs: Inputs = { values: { path: spec.path, mode, ...(spec.values ?? {}) } };
  if ('text' in spec.source) inputs.values!.content = sha256(spec.source.text);
  else {
    deps.source = spec.source.from;
    inputs.files = [spec.source.file];
  }
  const source = spec.source;
  const t = target({
    name: `install:${spec.node}:${spec.id}`,
    description: spec.description,
    deps,
    ...(spec.after ? { orderOnly: spec.after } : {}),
    inputs,
    build: async (ctx): Promise<InstalledFile> => {
      const { container } = ctx.deps.node;
      const content = 'text' in source ? Buffer.from(source.text) : await readFile(rootPath(ctx.root, source.file));
      // A write through the run's fleet: later probes of this node read it afresh.
      await nodeFleet.of(ctx).node(container).putFile(spec.path, content, mode);
      return { node: spec.node, container, path: spec.path, sha256: sha256(content), mode };
    },
    probe: async (result, ctx) => fileProbe(result, await nodeFleet.of(ctx).declared(result.node, result.container)),
  });
  return declareNodeReads(t, { node: spec.node, files: [spec.path] });
}

/** The install probe's decision on the node's batched read: undefined when the file is there with the hash installed. */
export function fileProbe(result: InstalledFile, state: NodeState): string | undefined {
  const actual = state.hashes.get(result.path);
  if (actual === undefined) return `${result.path} is missing on ${result.node}`;
  if (actual !== result.sha256) return `${result.path} on ${result.node} was changed`;
  return undefined;
}

/** Copies a cached binary to /usr/local/bin (or `dest`) on a node. */
export function binaryTarget(node: string, nodeTarget: NodeTarget, binary: BinaryTarget, name: string, dest: string) {
  const t = target({
    name: `install:${node}:${name}`,
    description: `Install ${name} on ${node} at ${dest}`,
    deps: { node: nodeTarget, binary },
    inputs: { values: { path: dest } },
    build: async (ctx): Promise<InstalledFile> => {
      const { container } = ctx.deps.node;
      const content = await readFile(rootPath(ctx.root, ctx.deps.binary.path));
      const digest = sha256(content);
      const handle = nodeFleet.of(ctx).node(container);
      await handle.putFile(dest, content, 0o755);
      // The stamp the probe will compare, read by the very command the batched read runs.
      const stamp = (await handle.readState({ files: [], binaries: [dest], units: [] })).stamps.get(dest);
      return { node, container, path: dest, sha256: digest, mode: 0o755, ...(stamp ? { stamp } : {}) };
    },
    probe: async (result, ctx) => binaryProbe(result, await nodeFleet.of(ctx).declared(result.node, result.container)),
  });
  return declareNodeReads(t, { node, binaries: [dest] });
}

/** The binary probe's decision: size and mtime as the install left them (hashing 250 MB per no-op run costs a second). */
export function binaryProbe(result: InstalledFile, state: NodeState): string | undefined {
  const actual = state.stamps.get(result.path);
  if (actual === undefined) return `${result.path} is missing on ${result.node}`;
  if (actual !== result.stamp) return `${result.path} on ${result.node} was replaced (size/mtime ${actual}, installed ${result.stamp ?? '?'})`;
  return undefined;
}

export type UnitSpecTarget = {
  node: string;
  nodeTarget: NodeTarget;
  unit: string;
  description: string;
  /** The unit file's install target and every file or binary the unit reads: a change restarts it. */
  files: Record<string, AnyTarget>;
  /** Other units that must be running first (ordering in the graph, not a restart trigger of their own). */
  after?: Record<string, AnyTarget>;
  /** Do not wait for `active` (etcd: the first member only notifies systemd once a quorum has formed). */
  noBlock?: boolean;
  /**
   * Runs the restart (`restart()`), with what must come before and after it: an etcd member takes its
   * apiserver out of the API endpoint first and puts it back once both serve again (tasks/cluster/etcd.ts).
   */
  aroundRestart?: (restart: () => Promise<void>, node: NodeHandle, ctx: ArtefactContext) => Promise<void>;
};

/** A unit target's dependencies: its node, its files (a change restarts it) and what it runs after (ordering only). */
type UnitDeps = { node: NodeTarget; [file: `file:${string}`]: AnyTarget; [after: `after:${string}`]: AnyTarget };

/** Runs a unit: daemon-reload, enable, restart; waits until it is active and stays so. */
export function unitTarget(spec: UnitSpecTarget) {
  const deps: UnitDeps = { node: spec.nodeTarget };
  for (const [alias, t] of Object.entries(spec.files)) deps[`file:${alias}`] = t;
  // Real dependencies, not order-only ones: asking for a unit must bring up what it runs after (the
  // kubelet exits at once without containerd), and their results are stable, so they restart nothing.
  for (const [alias, t] of Object.entries(spec.after ?? {})) deps[`after:${alias}`] = t;
  const t = target({
    name: `unit:${spec.node}:${spec.unit}`,
    description: spec.description,
    deps,
    build: async (ctx): Promise<RunningUnit> => {
      const { container } = ctx.deps.node;
      // Each of these execs writes through the run's fleet: later probes of this node read it afresh.
      const handle = nodeFleet.of(ctx).node(container);
      const unit = `${spec.unit}.service`;
      await handle.exec(['systemctl', 'daemon-reload']);
      await handle.exec(['systemctl', 'enable', '--quiet', unit]);
      const restart = async () => {
        ctx.log(`restarting ${unit} on ${spec.node}`);
        await handle.exec(['systemctl', 'reset-failed', unit], { allowFailure: true });
        const restarted = await handle.exec(['systemctl', 'restart', ...(spec.noBlock ? ['--no-block'] : []), unit], { allowFailure: true });
        if (restarted.exitCode !== 0) throw await unitFailed(handle, spec.node, unit, `not started (systemctl restart exited ${restarted.exitCode})`);
        if (!spec.noBlock) await waitActive(handle, spec.node, unit, ctx.signal);
      };
      if (spec.aroundRestart) await spec.aroundRestart(restart, handle, ctx);
      else await restart();
      return { node: spec.node, container, unit: spec.unit };
    },
    // Only reads: a unit that systemd is bringing back by itself (after `docker restart` of the node)
    // is waited for, within a bound, instead of being restarted by the build.
    probe: async (result, actx) => {
      const fleet = nodeFleet.of(actx);
      const first = (await fleet.declared(result.node, result.container)).units.get(result.unit);
      const node = readOnlyView(fleet.node(result.container));
      return unitDrift(result.unit, result.node, first, () => readUnitState(node, result.unit), { signal: actx.signal });
    },
  });
  return declareNodeReads(t, { node: spec.node, units: [spec.unit] });
}

/** One unit read afresh (not the shared batched read): for a probe that waits for a unit to settle. */
async function readUnitState(node: NodeHandle, unit: string): Promise<UnitState | undefined> {
  const { stdout } = await node.exec([...SYSTEMCTL_SHOW_UNITS, `${unit}.service`], { allowFailure: true, readOnly: true });
  return parseUnitBlocks(stdout.toString('utf8')).get(unit);
}

/** ActiveStates that systemd leaves by itself: a start (or auto-restart) under way, a stop, a reload. */
const SETTLING_STATES = new Set(['activating', 'deactivating', 'reloading']);

export type UnitDriftOptions = {
  /** How long a settling unit is waited for before it counts as drift (default 60 s). */
  boundMs?: number;
  /** Between two reads (default 1 s). */
  pollMs?: number;
  /** Injected by tests. */
  clock?: { now(): number; sleep(ms: number): Promise<void> };
  /** Ends the wait (the run was cancelled). */
  signal?: AbortSignal;
};

function describeUnit(state: UnitState): string {
  return state.sub ? `${state.active} (${state.sub})` : state.active;
}

/**
 * The unit probe's decision: undefined when the unit is enabled and active, else why not. A unit that is
 * still on its way (activating, auto-restart, or inactive with a start job queued, as at boot while what it
 * is ordered after comes up) is read again every `pollMs` for up to `boundMs`; active by then is up to date.
 * `failed`, `inactive` with nothing queued, or still settling after the bound is drift.
 */
export async function unitDrift(
  unit: string,
  node: string,
  first: UnitState | undefined,
  reread: () => Promise<UnitState | undefined>,
  options: UnitDriftOptions = {},
): Promise<string | undefined> {
  const boundMs = options.boundMs ?? 60_000;
  const pollMs = options.pollMs ?? 1000;
  const clock = options.clock ?? { now: () => performance.now(), sleep: (ms: number) => sleep(ms, options.signal) };
  const deadline = clock.now() + boundMs;
  let state = first;
  for (;;) {
    if (!state) return `${unit} is unknown on ${node}`;
    if (state.enabled !== 'enabled') return `${unit} on ${node} is ${state.enabled || 'not enabled'}`;
    if (state.active === 'active') return undefined;
    const settling = SETTLING_STATES.has(state.active) || (state.active === 'inactive' && state.job);
    if (!settling) return `${unit} on ${node} is ${describeUnit(state)}`;
    if (clock.now() >= deadline) return `${unit} on ${node} is still ${describeUnit(state)} after ${Math.round(boundMs / 1000)} s`;
    await clock.sleep(pollMs);
    state = await reread();
  }
}

type UnitShow = { active: string; sub: string; restarts: string; type: string };

async function showUnit(node: NodeHandle, unit: string): Promise<UnitShow> {
  const { stdout } = await node.exec(['systemctl', 'show', '--property=ActiveState,SubState,NRestarts,Type', unit], { readOnly: true });
  const props = new Map(stdout.toString('utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  return { active: props.get('ActiveState') ?? '', sub: props.get('SubState') ?? '', restarts: props.get('NRestarts') ?? '0', type: props.get('Type') ?? '' };
}

/** The last lines of a unit's journal on `node`, for error messages. */
export async function journalTail(node: NodeHandle, unit: string, lines = 30): Promise<string> {
  const { stdout } = await node.exec(['journalctl', '--no-pager', '--output=short-iso', '-n', String(lines), '-u', unit], { allowFailure: true, readOnly: true });
  return stdout.toString('utf8').trimEnd() || '(journal is empty)';
}

async function unitFailed(handle: NodeHandle, node: string, unit: string, state: string): Promise<UnitFailedError> {
  const journal = await journalTail(handle, unit);
  return new UnitFailedError(`${node}: ${unit} is ${state}; its last journal lines:\n${journal}`, `look further with \`docker exec ${handle.name} journalctl -u ${unit}\``);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** Waits for `active`; a long-running service must then stay active without restarting for a moment. */
async function waitActive(handle: NodeHandle, node: string, unit: string, signal: AbortSignal, timeoutMs = 90_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let state = await showUnit(handle, unit);
  while (state.active !== 'active') {
    if (state.active === 'failed' || (state.active === 'activating' && state.sub === 'auto-restart')) {
      throw await unitFailed(handle, node, unit, `${state.active} (${state.sub})`);
    }
    if (performance.now() > deadline) throw await unitFailed(handle, node, unit, `still ${state.active} (${state.sub}) after ${timeoutMs / 1000} s`);
    await sleep(200, signal);
    state = await showUnit(handle, unit);
  }
  if (state.type === 'oneshot') return;
  const restarts = state.restarts;
  await sleep(1500, signal);
  const later = await showUnit(handle, unit);
  if (later.active !== 'active' || later.restarts !== restarts) throw await unitFailed(handle, node, unit, `${later.active} (${later.sub}), restarted after start`);
}

export { sleep };
