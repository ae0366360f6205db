// Target factories for what the cluster puts on nodes: an installed file, an installed binary, a running
// systemd unit. Each probes the node (batched, see node-state.ts), so a file edited by hand or a unit that
// died makes exactly that target stale.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { target, type AnyTarget, type DepMap, type Inputs, type Json, type Target } from '../../lib/engine/target.ts';
import { UnitFailedError } from './errors.ts';
import { fileStamp, forgetNodeState, handleFor, nodeBinaryStamps, nodeFileHashes, nodeUnitStates, readUnitState, registerNodeBinary, registerNodeFile, registerNodeUnit, type UnitState } from './node-state.ts';

/** What the cluster step reads of a `node:<name>` result (the nodes step owns the full type). */
export type NodeInfo = { name: string; container: string; ip: string };

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
  nodeTarget: AnyTarget;
  /** Short id: the target is `install:<node>:<id>`. */
  id: string;
  path: string;
  mode?: number;
  description: string;
  source: Source;
  /** Config values the rendered text comes from, shown by `--explain` (from → to) when they change. */
  values?: Record<string, Json>;
};

export function fileTarget(spec: FileSpec): Target<InstalledFile, DepMap> {
  const mode = spec.mode ?? 0o644;
  registerNodeFile(spec.node, spec.path);
  const deps: DepMap = { node: spec.nodeTarget };
  const inputs: Inputs = { values: { path: spec.path, mode, ...(spec.values ?? {}) } };
  if ('text' in spec.source) inputs.values!.content = sha256(spec.source.text);
  else {
    deps.source = spec.source.from;
    inputs.files = [spec.source.file];
  }
  const source = spec.source;
  return target<InstalledFile, DepMap>({
    name: `install:${spec.node}:${spec.id}`,
    description: spec.description,
    deps,
    inputs,
    build: async (ctx) => {
      const node = ctx.deps.node as NodeInfo;
      const content = 'text' in source ? Buffer.from(source.text) : await readFile(rootPath(ctx.root, source.file));
      await handleFor(node.container).putFile(spec.path, content, mode);
      forgetNodeState(node.container);
      return { node: spec.node, container: node.container, path: spec.path, sha256: sha256(content), mode };
    },
    probe: async (result) => fileProbe(result),
  });
}

async function fileProbe(result: InstalledFile): Promise<string | undefined> {
  const hashes = await nodeFileHashes(result.container, result.node);
  const actual = hashes.get(result.path);
  if (actual === undefined) return `${result.path} is missing on ${result.node}`;
  if (actual !== result.sha256) return `${result.path} on ${result.node} was changed`;
  return undefined;
}

/** What the cluster step reads of a binaries result. */
type BinaryInfo = { name: string; path: string; sha256: string };

/** Copies a cached binary to /usr/local/bin (or `dest`) on a node. */
export function binaryTarget(node: string, nodeTarget: AnyTarget, binary: AnyTarget, name: string, dest: string): Target<InstalledFile, DepMap> {
  registerNodeBinary(node, dest);
  return target<InstalledFile, DepMap>({
    name: `install:${node}:${name}`,
    description: `Install ${name} on ${node} at ${dest}`,
    deps: { node: nodeTarget, binary },
    inputs: { values: { path: dest } },
    build: async (ctx) => {
      const info = ctx.deps.node as NodeInfo;
      const bin = ctx.deps.binary as BinaryInfo;
      const content = await readFile(rootPath(ctx.root, bin.path));
      const digest = sha256(content);
      await handleFor(info.container).putFile(dest, content, 0o755);
      forgetNodeState(info.container);
      const stamp = await fileStamp(info.container, dest);
      return { node, container: info.container, path: dest, sha256: digest, mode: 0o755, ...(stamp ? { stamp } : {}) };
    },
    probe: async (result) => {
      const actual = (await nodeBinaryStamps(result.container, result.node)).get(result.path);
      if (actual === undefined) return `${result.path} is missing on ${result.node}`;
      if (actual !== result.stamp) return `${result.path} on ${result.node} was replaced (size/mtime ${actual}, installed ${result.stamp ?? '?'})`;
      return undefined;
    },
  });
}

export type UnitSpecTarget = {
  node: string;
  nodeTarget: AnyTarget;
  unit: string;
  description: string;
  /** The unit file's install target and every file or binary the unit reads: a change restarts it. */
  files: Record<string, AnyTarget>;
  /** Other units that must be running first (ordering in the graph, not a restart trigger of their own). */
  after?: Record<string, AnyTarget>;
  /** Do not wait for `active` (etcd: the first member only notifies systemd once a quorum has formed). */
  noBlock?: boolean;
};

/** Runs a unit: daemon-reload, enable, restart; waits until it is active and stays so. */
export function unitTarget(spec: UnitSpecTarget): Target<RunningUnit, DepMap> {
  registerNodeUnit(spec.node, spec.unit);
  const deps: DepMap = { node: spec.nodeTarget };
  for (const [alias, t] of Object.entries(spec.files)) deps[`file:${alias}`] = t;
  for (const [alias, t] of Object.entries(spec.after ?? {})) deps[`after:${alias}`] = t;
  return target<RunningUnit, DepMap>({
    name: `unit:${spec.node}:${spec.unit}`,
    description: spec.description,
    deps,
    build: async (ctx) => {
      const node = ctx.deps.node as NodeInfo;
      const handle = handleFor(node.container);
      const unit = `${spec.unit}.service`;
      await handle.exec(['systemctl', 'daemon-reload']);
      await handle.exec(['systemctl', 'enable', '--quiet', unit]);
      ctx.log(`restarting ${unit} on ${spec.node}`);
      await handle.exec(['systemctl', 'reset-failed', unit], { allowFailure: true });
      const restarted = await handle.exec(['systemctl', 'restart', ...(spec.noBlock ? ['--no-block'] : []), unit], { allowFailure: true });
      if (restarted.exitCode !== 0) throw await unitFailed(node.container, spec.node, unit, `not started (systemctl restart exited ${restarted.exitCode})`);
      forgetNodeState(node.container);
      if (!spec.noBlock) await waitActive(node.container, spec.node, unit, ctx.signal);
      return { node: spec.node, container: node.container, unit: spec.unit };
    },
    // Only reads: a unit that systemd is bringing back by itself (after `docker restart` of the node)
    // is waited for, within a bound, instead of being restarted by the build.
    probe: async (result, actx) =>
      unitDrift(result.unit, result.node, (await nodeUnitStates(result.container, result.node)).get(result.unit), () => readUnitState(result.container, result.unit), {
        signal: actx.signal,
      }),
  });
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

async function showUnit(container: string, unit: string): Promise<UnitShow> {
  const { stdout } = await handleFor(container).exec(['systemctl', 'show', '--property=ActiveState,SubState,NRestarts,Type', unit]);
  const props = new Map(stdout.toString('utf8').split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  return { active: props.get('ActiveState') ?? '', sub: props.get('SubState') ?? '', restarts: props.get('NRestarts') ?? '0', type: props.get('Type') ?? '' };
}

/** The last lines of a unit's journal, for error messages. */
export async function journalTail(container: string, unit: string, lines = 30): Promise<string> {
  const { stdout } = await handleFor(container).exec(['journalctl', '--no-pager', '--output=short-iso', '-n', String(lines), '-u', unit], { allowFailure: true });
  return stdout.toString('utf8').trimEnd() || '(journal is empty)';
}

async function unitFailed(container: string, node: string, unit: string, state: string): Promise<UnitFailedError> {
  const journal = await journalTail(container, unit);
  return new UnitFailedError(`${node}: ${unit} is ${state}; its last journal lines:\n${journal}`, `look further with \`docker exec ${container} journalctl -u ${unit}\``);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** Waits for `active`; a long-running service must then stay active without restarting for a moment. */
async function waitActive(container: string, node: string, unit: string, signal: AbortSignal, timeoutMs = 90_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let state = await showUnit(container, unit);
  while (state.active !== 'active') {
    if (state.active === 'failed' || (state.active === 'activating' && state.sub === 'auto-restart')) {
      throw await unitFailed(container, node, unit, `${state.active} (${state.sub})`);
    }
    if (performance.now() > deadline) throw await unitFailed(container, node, unit, `still ${state.active} (${state.sub}) after ${timeoutMs / 1000} s`);
    await sleep(200, signal);
    state = await showUnit(container, unit);
  }
  if (state.type === 'oneshot') return;
  const restarts = state.restarts;
  await sleep(1500, signal);
  const later = await showUnit(container, unit);
  if (later.active !== 'active' || later.restarts !== restarts) throw await unitFailed(container, node, unit, `${later.active} (${later.sub}), restarted after start`);
}

export { sleep };
