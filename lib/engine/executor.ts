// The executor: decides each target of the requested closure (key, owned files, probe), builds what
// is stale and records the result. A synchronous pass decides what it can without waiting (a no-op
// run ends there); the rest runs on p-graph, builds limited to --jobs slots and probes to their own.
// Failure policy (p-graph has none of its own): on the first failure stop starting targets and abort
// running builds through their AbortSignal; with keepGoing build everything not downstream of a failure.

import { setMaxListeners } from 'node:events';
import { chmodSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { AnyTarget, ArtefactContext, Json } from './target.ts';
import { EngineError, hintOf, messageOf } from './errors.ts';
import { explainChanges } from './explain.ts';
import { buildGraph, checkRequested, closure, forcedMembers, membersOf, ORDER_ONLY, type Graph } from './graph.ts';
import { hashJson, jsonProblem, sha256, stableStringify } from './hash.ts';
import { acquireLock } from './lock.ts';
import { StatCache, modeText, restamp, stampFile, type FileStamp } from './stat-cache.ts';
import { Slots } from './slots.ts';
import { removeStaleTemps } from './temp-files.ts';
import { ResourceScope } from './resources.ts';
import { SCHEMA, StateStore, recordedStampMatches, withChanges, type Manifest, type TargetRecord } from './state.ts';
import type { BuildOptions, BuildReport, Entry, Failure } from './types.ts';

/**
 * A target's key: everything its build depends on, hashed. Dependencies count by their result.
 * The manifest's maps are built in sorted order, so native JSON.stringify is canonical for them;
 * only the free-form `values` need the (slower) key-sorting serialiser.
 */
export function keyOf(name: string, manifest: Manifest): string {
  const { version, files, env, deps, outputs, values } = manifest;
  return sha256(`${JSON.stringify([name, version, files, env, deps, outputs])}\n${stableStringify(values)}`);
}

/** True when a key would not be serialised in insertion order (array-index keys come first in V8). */
const startsWithDigit = (key: string): boolean => {
  const c = key.charCodeAt(0);
  return c >= 48 && c <= 57;
};

/** The names in sorted order without repeats (the order and keys of the manifest's maps); as given when already so. */
function sortedUnique(names: readonly string[] | undefined): readonly string[] {
  if (!names) return [];
  for (let i = 1; i < names.length; i++) if (!(names[i - 1]! < names[i]!)) return [...new Set(names)].sort();
  return names;
}

/** A relative path that path.join would change: '.', '..' or empty segments, a trailing slash, a backslash. */
const NOT_NORMAL = /(^|\/)\.\.?(\/|$)|\/\/|\/$|\\/;

/** `record` with its keys in sorted order (insertion order is what JSON.stringify follows). */
function sortedRecord<V>(record: Record<string, V>): Record<string, V> {
  const keys = Object.keys(record);
  if (keys.length < 2) return record;
  const out: Record<string, V> = {};
  for (const key of keys.sort()) out[key] = record[key]!;
  return out;
}

/**
 * Whether everything a target makes is something the engine checks itself: its owned `outputs` (by
 * hash) and its result. Such a target's record stays trusted through a failed or cancelled rebuild:
 * a build that changed an output left a file whose hash differs from the record's (an interrupted
 * write is never trusted), and one that changed nothing left the artefacts the record describes. A
 * probe or a clean() means artefacts outside output/ that a half-done build may have changed where
 * the engine cannot look: those targets' records are invalidated before their build starts.
 */
function trustsOwnChecks(t: AnyTarget): boolean {
  return !t.probe && !t.clean;
}

/** Runs a build of the requested targets. Throws InvalidGraphError (bad graph/request) or lock-held. */
export async function runBuild(opts: BuildOptions): Promise<BuildReport> {
  const started = performance.now();
  const graph = buildGraph(opts.targets);
  checkRequested(graph, opts.requested);
  const roots = opts.requested.flatMap((r) => membersOf(graph, r)!);
  checkRequested(graph, Object.keys(opts.rebuild ?? {}));
  const forced = new Set([...(opts.force ? opts.requested.flatMap((r) => forcedMembers(graph, r)) : []), ...Object.keys(opts.rebuild ?? {})]);
  const names = closure(graph, roots);
  const root = resolve(opts.root);
  const outDir = resolve(opts.outDir ?? join(root, 'output'));
  const lock = opts.dryRun ? undefined : acquireLock(outDir);
  try {
    const run = new Run(graph, opts, root, outDir, forced);
    // Destructive targets are refused before anything runs, all of them in one error.
    const destructive = run.destructiveRuns(names);
    if (destructive.length && !opts.dryRun && !opts.yes) {
      const what = destructive.map((d) => d.what);
      throw new EngineError('needs-yes', `the run would remove ${what.join(', ')}; nothing was changed: run again with --yes to remove ${destructive.length > 1 ? 'them' : 'it'}`, {
        target: destructive[0]!.name,
        hint: `or put ${destructive.length > 1 ? 'them' : 'it'} back in the config; --dry-run lists what a run would remove`,
        details: destructive.map((d) => `${d.name}: removes ${d.what}`),
      });
    }
    if (destructive.length) run.destructive = destructive.map((d) => d.what);
    // Only with the lock held: no other run of ours can be mid-write, so a temp is a dead writer's.
    if (lock) run.removedTemps = removeStaleTemps(run.knownFiles()).map((path) => relative(root, path));
    return await run.execute(names, started);
  } finally {
    lock?.release();
  }
}

/** What the key functions read besides the target: input files' hashes and the dependencies' result hashes. */
export type KeyInputs = {
  /** The project root (input paths are relative to it). */
  root: string;
  /** The content hash of an input file, undefined when it does not exist. */
  fileHash(file: string): string | undefined;
  /** The result hash of each finished dependency. */
  resultHashes: ReadonlyMap<string, string>;
};

/** What went into a target's key, by name (recorded, and compared by --explain); throws missing-input or bad-target. */
export function manifestOf(run: KeyInputs, t: AnyTarget, edges: [string, string][]): Manifest {
  const files: Record<string, string> = {};
  for (const pattern of t.inputs?.files ?? []) {
    const hash = run.fileHash(pattern);
    if (!hash) {
      throw new EngineError('missing-input', `input file ${pattern} does not exist`, {
        target: t.name,
        hint: `create ${pattern}, or fix inputs.files of ${t.name} (paths are relative to ${run.root})`,
      });
    }
    files[pattern] = hash;
  }
  const values = t.inputs?.values ?? {};
  const problem = jsonProblem(values, 'inputs.values');
  if (problem) throw new EngineError('bad-target', `${problem}`, { target: t.name, hint: 'inputs.values must be JSON values' });
  const env: Record<string, string | null> = {};
  for (const name of t.inputs?.env ?? []) env[name] = process.env[name] ?? null;
  const deps: Record<string, string> = {};
  for (const [alias, dep] of edges) deps[alias] = `${dep}@${run.resultHashes.get(dep)}`;
  return { version: t.version ?? 0, files: sortedRecord(files), values, env: sortedRecord(env), deps: sortedRecord(deps), outputs: t.outputs ?? [] };
}

/**
 * The key of a target computed without building its manifest: the very text keyOf() hashes, written
 * directly (a no-op run needs only the key, not the manifest that --explain and the record use).
 * Undefined when a case needs the general path (keys that would not serialise in sorted
 * order, a missing input or a value that is not JSON: manifestOf() reports those).
 */
export function quickKey(run: KeyInputs, t: AnyTarget, edges: [string, string][]): string | undefined {
  const version = t.version ?? 0;
  if (typeof version !== 'number' || !Number.isFinite(version)) return undefined;
  let text = `[${JSON.stringify(t.name)},${version},{`;
  const patterns = sortedUnique(t.inputs?.files);
  for (let i = 0; i < patterns.length; i++) {
    const pattern = patterns[i]!;
    if (typeof pattern !== 'string' || startsWithDigit(pattern)) return undefined;
    const hash = run.fileHash(pattern);
    if (!hash) return undefined;
    text += `${i ? ',' : ''}${JSON.stringify(pattern)}:"${hash}"`;
  }
  text += '},{';
  const env = sortedUnique(t.inputs?.env);
  for (let i = 0; i < env.length; i++) {
    const name = env[i]!;
    if (typeof name !== 'string' || startsWithDigit(name)) return undefined;
    const value = process.env[name];
    text += `${i ? ',' : ''}${JSON.stringify(name)}:${value === undefined ? 'null' : JSON.stringify(value)}`;
  }
  text += '},{';
  let sorted = edges;
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i - 1]![0] < edges[i]![0])) {
      sorted = [...edges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      break;
    }
  }
  for (let i = 0; i < sorted.length; i++) {
    const [alias, dep] = sorted[i]!;
    if (startsWithDigit(alias)) return undefined;
    text += `${i ? ',' : ''}${JSON.stringify(alias)}:${JSON.stringify(`${dep}@${run.resultHashes.get(dep)}`)}`;
  }
  const values = t.inputs?.values ?? {};
  let empty = true;
  for (const _ in values) {
    empty = false;
    break;
  }
  if (!empty && jsonProblem(values, 'inputs.values')) return undefined;
  return sha256(`${text}},${JSON.stringify(t.outputs ?? [])}]\n${empty ? '{}' : stableStringify(values)}`);
}

/** What prepare() found for a target that is not finished yet. */
type Prepared = {
  t: AnyTarget;
  edges: [string, string][];
  record: TargetRecord | undefined;
  manifest?: Manifest;
  key?: string;
  /** Why it must run; undefined when up to date pending its probe. */
  reason: string | undefined;
  started: number;
  /** Decided on dependencies that were only tentatively up to date (their probes still running). */
  speculative?: boolean;
  /** The probe, started early by the fast path. */
  probe?: Promise<string | undefined>;
  /** A build would replace what a previous build made (a record exists, and it is not forced). */
  replaces?: boolean;
};

/** How the fast path left a target: decided, waiting for a build, or tentatively up to date. */
type QuickState = 'done' | 'pending' | 'tentative';

class Run {
  readonly entries: Record<string, Entry> = {};
  readonly failures: Failure[] = [];
  /** Result hash of each finished target (aliases: a hash of their members'), for dependents' keys. */
  readonly resultHashes = new Map<string, string>();
  readonly controller = new AbortController();
  readonly stats: StatCache;
  readonly store: StateStore;
  /** At most --jobs builds at once. */
  readonly buildSlots: Slots;
  /** Probes are cheap I/O (a docker inspect, a file hash): more of them may run at once. */
  readonly probeSlots: Slots;
  /** Each pool's slots (Target.pool), taken before a job slot. */
  readonly pools = new Map<string, Slots>();
  /** Length of the longest chain of pending dependents: builds on the critical path go first. */
  readonly priority = new Map<string, number>();
  /** Targets decided by the fast path that still need a probe or a build. */
  readonly prepared = new Map<string, Prepared>();
  /** Owned files whose mode the engine put back (or, in a dry run, would), by target: shown in its entry. */
  readonly repairs = new Map<string, string>();
  /** Temp files of killed runs removed before this run started (project-relative). */
  removedTemps: string[] = [];
  /** What the destructive targets of this run remove (the report's `destructive`). */
  destructive: string[] = [];
  stopReason: string | undefined;
  /** Set during the synchronous pass: refusals of precious targets stop the run once it ends. */
  quickPass = false;
  deferredStop: string | undefined;
  readonly rootSlash: string;
  /** This run's resource values (ctx.use), disposed when the run ends. */
  readonly resources: ResourceScope;

  constructor(
    readonly graph: Graph,
    readonly opts: BuildOptions,
    readonly root: string,
    readonly outDir: string,
    readonly forced: Set<string>,
  ) {
    this.rootSlash = root.endsWith('/') ? root : `${root}/`;
    // Every running build and probe listens on this one signal (often through many requests each):
    // that is by design, not a leak, so Node's 10-listener warning would only be noise.
    setMaxListeners(0, this.controller.signal);
    this.stats = new StatCache(join(outDir, '.harder', 'stat-cache.tsv'), join(outDir, '.harder', 'stat-cache.json'));
    this.store = new StateStore(outDir);
    const jobs = Math.max(1, opts.jobs ?? availableParallelism());
    this.buildSlots = new Slots(jobs, { byPriorityPerTurn: true });
    // Many probes only await a read shared with other probes (one listing per node): with few slots,
    // those waiting probes held every slot and cheap ones (an image inspect) queued behind them. The
    // bound only guards against a project with thousands of probes starting them all at once.
    this.probeSlots = new Slots(Math.max(128, 16 * jobs));
    this.resources = new ResourceScope({ targets: opts.targets, root, outDir }, opts.resources);
  }

  /** What the destructive targets would remove, of those that would build (no usable record, forced, or always run). */
  destructiveRuns(names: string[]): { name: string; what: string }[] {
    const out: { name: string; what: string }[] = [];
    for (const name of names) {
      const t = this.graph.byName.get(name)!;
      if (!t.destructive || !t.build) continue;
      const read = this.store.get(name);
      const recorded = read.kind === 'ok' && !read.invalidated;
      if (recorded && !this.forced.has(name) && !t.alwaysRun) continue;
      out.push({ name, what: typeof t.destructive === 'string' ? t.destructive : name });
    }
    return out;
  }

  /** Every file whose temps the engine may remove: every registered target's outputs, and the state files. */
  knownFiles(): string[] {
    const files = [this.store.file, join(this.outDir, '.harder', 'stat-cache.tsv')];
    for (const t of this.graph.byName.values()) for (const path of t.outputs ?? []) files.push(this.abs(path));
    return files;
  }

  computePriorities(pending: Set<string>): void {
    const order = [...pending].reverse(); // dependents before their dependencies
    for (const name of order) {
      let longest = 0;
      for (const dependent of this.graph.dependents.get(name)!) longest = Math.max(longest, this.priority.get(dependent) ?? 0);
      this.priority.set(name, longest + 1);
    }
  }

  stop(reason: string): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.controller.abort(new Error(reason));
  }

  async execute(names: string[], started: number): Promise<BuildReport> {
    const { opts } = this;
    const onAbort = (): void => this.stop('interrupted');
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    opts.reporter?.start?.({ total: names.filter((n) => this.graph.byName.get(n)!.build).length, names, dryRun: !!opts.dryRun });
    try {
      // Fast path first (names are in dependency order): targets decided without waiting are done.
      // A target that is up to date unless its probe objects is "tentative": its probe starts now and
      // its dependents are decided on its recorded result, so probes along a chain run at once instead
      // of one after another; visit() later confirms or discards each such speculation. Targets that
      // must build block everything downstream of them until the scheduler gets there.
      const pending = new Set<string>();
      const blocked = new Set<string>();
      // Every precious target that would be replaced is named in one run, not one per run: their
      // refusals stop the run only after this pass (nothing has started building yet).
      this.quickPass = true;
      for (const name of names) {
        if (this.graph.deps.get(name)!.some(([, dep]) => blocked.has(dep))) {
          pending.add(name);
          blocked.add(name);
          continue;
        }
        const state = this.quickVisitSafely(name);
        if (state === 'done') continue;
        pending.add(name);
        if (state === 'pending') blocked.add(name);
      }
      this.quickPass = false;
      if (this.deferredStop) this.stop(this.deferredStop);
      const nodes = new Map([...pending].map((name) => [name, { run: () => this.visitSafely(name) }]));
      const edges: [string, string][] = [];
      for (const name of pending) for (const [, dep] of this.graph.deps.get(name)!) if (pending.has(dep)) edges.push([dep, name]);
      // visit() never rejects, so p-graph's own failure handling never triggers: the policy is ours.
      // p-graph starts each target as soon as its dependencies are done; what may run at once is
      // limited inside visit(): builds by the job slots, probes by their own slots.
      // Loaded only when something is left to schedule: a no-op run does not pay for it.
      if (nodes.size) {
        this.computePriorities(pending);
        const { PGraph } = await import('p-graph');
        await new PGraph(nodes, edges).run();
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      if (!opts.dryRun) {
        this.store.close();
        this.stats.save();
      }
      // Every build and probe has finished: what they shared (keep-alive sockets) can go.
      await this.resources.dispose();
    }
    const entries = this.entries;
    const report: BuildReport = {
      ok: this.failures.length === 0 && !names.some((n) => entries[n]?.outcome === 'cancelled'),
      entries,
      failures: this.failures,
      ms: performance.now() - started,
    };
    if (this.removedTemps.length) report.removedTemps = this.removedTemps;
    if (this.destructive.length) report.destructive = this.destructive;
    opts.reporter?.end?.(report);
    return report;
  }

  finish(name: string, entry: Entry): void {
    if (!this.graph.byName.get(name)!.build) entry.alias = true;
    this.entries[name] = entry;
    this.opts.reporter?.targetEnd?.(name, entry);
  }

  fail(name: string, error: unknown, started: number, kind = 'build-failed'): void {
    const engineError = error instanceof EngineError ? error : undefined;
    const failure: Failure = {
      target: name,
      message: engineError ? engineError.message : messageOf(error),
      hint: engineError ? engineError.hint : hintOf(error),
      kind: engineError ? engineError.kind : kind,
      cause: engineError?.cause ?? error,
    };
    this.failures.push(failure);
    this.finish(name, { outcome: 'failed', reason: failure.message, ms: performance.now() - started });
    if (this.opts.keepGoing) return;
    if (this.quickPass && failure.kind === 'precious-changed') this.deferredStop ??= `stopped after ${name} failed`;
    else this.stop(`stopped after ${name} failed`);
  }

  artefactContext(name: string): ArtefactContext {
    return {
      signal: this.controller.signal,
      log: (message: string) => this.opts.reporter?.targetLog?.(name, message),
      root: this.root,
      outDir: this.outDir,
      use: this.resources.use,
    };
  }

  /**
   * root + '/' + rel without path.join's normalisation when `rel` is already normal (no '.', '..' or
   * empty segments, not absolute): the common case, done 20,000 times in a no-op run of 10,000 targets.
   */
  abs(rel: string): string {
    if (rel.length && rel.charCodeAt(0) !== 47 && !NOT_NORMAL.test(rel)) return this.rootSlash + rel;
    return join(this.root, rel);
  }

  /** The content hash of an input file (project-relative; through the stat cache), undefined when it does not exist. */
  fileHash(file: string): string | undefined {
    return this.stats.stamp(this.abs(file))?.hash;
  }

  /**
   * Why the owned files do not match the record, or undefined. Refreshes stamps of touched-but-equal
   * files, and puts back a drifted mode (content as recorded, mode not): a chmod by the engine, not a
   * rebuild, noted in `this.repairs` (in a dry run only noted).
   */
  checkOutputs(t: AnyTarget, record: TargetRecord): string | undefined {
    // Copied only when a stamp is refreshed: a no-op run allocates nothing here.
    let outputs: Record<string, FileStamp> | undefined;
    let repairs: string[] | undefined;
    const dryRun = !!this.opts.dryRun;
    for (const path of t.outputs ?? []) {
      // The common case, decided on one stat; anything else is looked at again below.
      const abs = this.abs(path);
      const stats = statSync(abs, { throwIfNoEntry: false });
      if (stats && stats.isFile() && recordedStampMatches(record, path, stats)) continue;
      const stamp = record.outputs[path];
      if (!stamp) return `output ${path} has no recorded hash`;
      if (!stats || !stats.isFile()) return `output ${path} is missing`;
      let current = restamp(abs, stats, stamp);
      if (current.hash !== stamp.hash) return `output ${path} was modified`;
      // A stamp without a mode (written by an older engine) adopts the current one.
      if (stamp.mode !== undefined && current.mode !== stamp.mode) {
        const drift = `mode of ${path} is ${modeText(current.mode!)}, want ${modeText(stamp.mode)}`;
        (repairs ??= []).push(drift);
        if (dryRun) continue;
        try {
          chmodSync(abs, stamp.mode);
        } catch (error) {
          return `${drift}, and chmod failed: ${messageOf(error)}`;
        }
        current = restamp(abs, statSync(abs), current);
      }
      outputs ??= { ...record.outputs };
      outputs[path] = current;
    }
    if (repairs) this.repairs.set(t.name, repairs.join('; '));
    if (outputs && !dryRun) this.store.put(withChanges(record, { outputs }));
    return undefined;
  }

  quickVisitSafely(name: string): QuickState {
    try {
      return this.quickVisit(name);
    } catch (error) {
      if (!this.entries[name]) this.fail(name, error, performance.now());
      return 'done';
    }
  }

  /** visit() with a net: an unexpected exception (a full disk while writing state) fails that target only. */
  async visitSafely(name: string): Promise<void> {
    try {
      await this.visit(name);
    } catch (error) {
      if (!this.entries[name]) this.fail(name, error, performance.now());
    }
  }

  /**
   * The synchronous part of visiting a target: dependency outcomes, aliases, the record, the key and
   * the reason to run. Returns 'finished' when the target got its outcome here, or what the
   * asynchronous part (probe, build) needs. `reason` undefined = up to date unless a probe says otherwise.
   */
  prepare(name: string): Prepared | 'finished' {
    const started = performance.now();
    const t = this.graph.byName.get(name)!;
    // What the key reads; the order-only edges count only for outcomes (a failure skips this target).
    const edges = this.graph.keyDeps.get(name)!;
    const all = this.graph.deps.get(name)!;
    let wouldDep: string | undefined;
    let speculative = false;
    for (const [alias, dep] of all) {
      const e = this.entries[dep];
      if (!e) {
        // Only in the fast path: the dependency is tentatively up to date (its probe is running).
        speculative = true;
        continue;
      }
      if (e.outcome === 'failed' || e.outcome === 'skipped') {
        this.finish(name, { outcome: 'skipped', reason: `dependency ${dep} ${e.outcome === 'failed' ? 'failed' : 'was skipped'}`, ms: 0 });
        return 'finished';
      }
      if (e.outcome === 'cancelled') {
        this.finish(name, { outcome: 'cancelled', reason: this.stopReason ?? 'cancelled', ms: 0 });
        return 'finished';
      }
      if (e.outcome === 'would-build' && !wouldDep && !alias.startsWith(ORDER_ONLY)) wouldDep = dep;
    }
    if (this.stopReason) {
      this.finish(name, { outcome: 'cancelled', reason: this.stopReason, ms: 0 });
      return 'finished';
    }
    if (!t.build) {
      // An alias: done when its members are. Its "result hash" combines theirs, so a target that
      // depends on an alias still rebuilds when a member's result changes.
      // (Arrays of strings and nulls: JSON.stringify is already the canonical form hashJson would hash.)
      this.resultHashes.set(name, sha256(JSON.stringify(edges.map(([alias, dep]) => [alias, this.resultHashes.get(dep) ?? null]))));
      // With tentative members the alias is decided in visit(), once they are.
      if (speculative) return { t, edges, record: undefined, reason: undefined, started, speculative };
      const outcome = wouldDep ? 'would-build' : 'up-to-date';
      this.finish(name, { outcome, reason: wouldDep ? `member ${wouldDep} would rebuild` : 'alias', result: null, ms: 0, alias: true });
      return 'finished';
    }
    const read = this.store.get(name);
    const record = read.kind === 'ok' ? read.record : undefined;
    // A build that started and did not finish makes the record untrusted only where the engine
    // cannot check the artefacts itself (an older engine marked every target this way).
    const interrupted = read.kind === 'ok' && !!read.invalidated && !trustsOwnChecks(t);
    if (wouldDep) return { t, edges, record, reason: record ? `dependency ${wouldDep} would rebuild` : 'never built', started, speculative };
    // The no-op case: a current record and nothing that needs the manifest (a probe or a dependent's
    // speculation may lead to a build, which records it). The key is computed directly, and if it
    // matches and the owned files are intact the target is up to date without a manifest.
    let outputsReason: string | undefined | null = null;
    if (record && !interrupted && !speculative && !t.probe && !t.alwaysRun && !this.forced.has(name)) {
      let quick: string | undefined;
      try {
        quick = quickKey(this, t, edges);
      } catch {
        quick = undefined; // the general path below reports it
      }
      if (quick !== undefined && quick === record.key) {
        outputsReason = this.checkOutputs(t, record);
        if (outputsReason === undefined) return { t, edges, record, key: quick, reason: undefined, started, speculative };
      }
    }
    let manifest: Manifest;
    try {
      manifest = manifestOf(this, t, edges);
    } catch (error) {
      this.fail(name, error, started);
      return 'finished';
    }
    const key = keyOf(name, manifest);
    let reason: string | undefined;
    if (read.kind === 'missing') reason = 'never built';
    else if (read.kind === 'unusable') reason = `${read.why}; rebuilding`;
    else if (interrupted) reason = 'the last build failed or was interrupted';
    else if (this.forced.has(name)) reason = this.opts.rebuild?.[name] ?? 'forced';
    else if (t.alwaysRun) reason = 'always runs';
    else if (record!.key !== key) reason = explainChanges(record!.manifest, manifest);
    else reason = outputsReason === null ? this.checkOutputs(t, record!) : outputsReason;
    const replaces = read.kind !== 'missing' && !this.forced.has(name) && !t.alwaysRun;
    return { t, edges, record, manifest, key, reason, started, speculative, replaces };
  }

  /**
   * The no-op fast path: decides, without awaiting, every target whose dependencies are decided and
   * that needs no probe or build. A no-op run over 10,000 targets never touches the scheduler.
   * 'tentative': up to date unless its probe (started here) or a tentative dependency objects.
   */
  quickVisit(name: string): QuickState {
    const prepared = this.prepare(name);
    if (prepared === 'finished') return 'done';
    if (!prepared.speculative) {
      if (prepared.reason !== undefined && this.refused(name, prepared, prepared.reason)) return 'done';
      if (prepared.reason === undefined && !prepared.t.probe) {
        this.upToDate(name, prepared);
        return 'done';
      }
      if (prepared.reason !== undefined && this.opts.dryRun) {
        this.finish(name, { outcome: 'would-build', reason: prepared.reason, ms: performance.now() - prepared.started });
        return 'done';
      }
    }
    this.prepared.set(name, prepared);
    if (prepared.reason !== undefined) return 'pending';
    if (prepared.t.build) this.resultHashes.set(name, prepared.record!.resultHash);
    if (prepared.t.probe) prepared.probe = this.startProbe(name, prepared);
    return 'tentative';
  }

  /**
   * A precious target is never replaced as a side effect: when it would be rebuilt over what an
   * earlier build made (its inputs changed, an artefact is damaged or missing, its record is
   * unusable), the target fails with the reason and the two ways on, and the run stops. Only a
   * --force naming it replaces it; one never built is simply built. True when it was refused.
   */
  refused(name: string, prepared: Prepared, reason: string): boolean {
    if (!prepared.t.precious || !prepared.replaces) return false;
    this.fail(
      name,
      new EngineError('precious-changed', `${name} is precious and would be replaced: ${reason}`, {
        target: name,
        hint: `undo the change, or replace it on purpose with --force ${name} (what was made from it is rebuilt too)`,
      }),
      prepared.started,
    );
    return true;
  }

  /** Runs a target's probe (in a probe slot); resolves to the reason it is stale, or undefined. */
  startProbe(name: string, prepared: Prepared): Promise<string | undefined> {
    return this.probeSlots
      .run(0, () => prepared.t.probe!(prepared.record!.result, this.artefactContext(name)))
      .then(
        (reason) => (reason ? `probe: ${reason}` : undefined),
        (error: unknown) => `probe failed: ${messageOf(error)}`,
      );
  }

  /** A speculative decision stands when every dependency ended up with the result it assumed. */
  speculationHolds(prepared: Prepared): boolean {
    for (const [, dep] of this.graph.deps.get(prepared.t.name)!) {
      const e = this.entries[dep];
      if (!e || (e.outcome !== 'up-to-date' && e.outcome !== 'built')) return false;
    }
    if (prepared.manifest) for (const [alias, dep] of prepared.edges) if (prepared.manifest.deps[alias] !== `${dep}@${this.resultHashes.get(dep)}`) return false;
    return true;
  }

  upToDate(name: string, prepared: Prepared): void {
    this.resultHashes.set(name, prepared.record!.resultHash);
    const repaired = this.repairs.get(name);
    const entry: Entry = { outcome: 'up-to-date', reason: repaired ?? 'up to date', result: prepared.record!.result, ms: performance.now() - prepared.started };
    if (repaired) entry.repaired = true;
    this.finish(name, entry);
  }

  /** The scheduled part: probe, then build if needed, then record. Runs on p-graph. */
  async visit(name: string): Promise<void> {
    let prepared = this.prepared.get(name);
    this.prepared.delete(name);
    if (prepared && this.stopReason) return this.finish(name, { outcome: 'cancelled', reason: this.stopReason, ms: 0 });
    // A speculation whose assumptions failed (a dependency turned out stale) is decided afresh; its
    // early probe result, if any, is dropped. Aliases with tentative members are decided now.
    if (prepared?.speculative && (!prepared.t.build || !this.speculationHolds(prepared))) prepared = undefined;
    // A dependency that was rebuilt (to the same result) may have disturbed what the early probe
    // looked at while it ran: probe again now that the dependency is done.
    if (prepared?.speculative && prepared.edges.some(([, dep]) => this.entries[dep]!.outcome === 'built')) prepared.probe = undefined;
    prepared ??= ((p) => (p === 'finished' ? undefined : p))(this.prepare(name));
    if (!prepared) return;
    const { t } = prepared;
    // Timed from here: a target prepared by the fast path may have waited for its dependencies.
    const started = performance.now();
    let reason = prepared.reason;
    const dryRun = !!this.opts.dryRun;
    if (reason === undefined && t.probe) {
      reason = await (prepared.probe ?? this.startProbe(name, prepared));
      prepared.replaces = !this.forced.has(name) && !t.alwaysRun;
    }
    if (reason === undefined) return this.upToDate(name, prepared);
    if (this.refused(name, prepared, reason)) return;
    if (dryRun) return this.finish(name, { outcome: 'would-build', reason, ms: performance.now() - started });
    const why = reason;
    const priority = this.priority.get(name) ?? 0;
    const build = () => this.buildSlots.run(priority, () => this.build(name, prepared, why));
    return t.pool ? this.poolSlots(t.pool.name, t.pool.depth).run(priority, build) : build();
  }

  /** The slots of a pool (graph.ts checked that one name means one pool object). */
  poolSlots(name: string, depth: number): Slots {
    let slots = this.pools.get(name);
    if (!slots) this.pools.set(name, (slots = new Slots(depth, { byPriorityPerTurn: true })));
    return slots;
  }

  /** Builds a target that holds a job slot, and records the result. */
  async build(name: string, prepared: Prepared, reason: string): Promise<void> {
    const { t, edges, record, manifest, key } = prepared;
    const started = performance.now();
    if (this.stopReason) return this.finish(name, { outcome: 'cancelled', reason: this.stopReason, ms: 0 });

    // The old record stays until the new one replaces it: where the engine checks every artefact, a
    // failed, cancelled or killed build is judged by what it left (output hashes). Elsewhere the
    // record is invalidated first: the next run must not trust artefacts it cannot see.
    if (t.destructive && !this.opts.yes) {
      // The up-front check names these before anything runs; this catches one decided later (a changed key).
      const what = typeof t.destructive === 'string' ? t.destructive : name;
      return this.fail(name, new EngineError('needs-yes', `the run would remove ${what}: run again with --yes`, { target: name }), started);
    }
    if (!trustsOwnChecks(t)) this.store.invalidate(name);
    this.opts.reporter?.targetStart?.(name, reason);
    const forgotten = new Set<string>();
    const deps: Record<string, Json> = {};
    for (const [alias, dep] of edges) deps[alias] = this.entries[dep]!.result ?? null;
    let result: unknown;
    try {
      result = await t.build!({
        deps,
        signal: this.controller.signal,
        log: (message: string) => this.opts.reporter?.targetLog?.(name, message),
        root: this.root,
        outDir: this.outDir,
        previous: record?.result,
        reason,
        use: this.resources.use,
        forget: (names: string[]) => {
          for (const n of names) forgotten.add(n);
        },
      });
    } catch (error) {
      if (this.controller.signal.aborted && this.stopReason) {
        return this.finish(name, { outcome: 'cancelled', reason: this.stopReason, ms: performance.now() - started });
      }
      return this.fail(name, error, started);
    }
    const problem = jsonProblem(result);
    if (problem) {
      return this.fail(name, new EngineError('bad-result', `the build returned a value that is not JSON: ${problem}`, { target: name, hint: 'results are stored and compared as JSON; return plain data' }), started);
    }
    const outputs: Record<string, FileStamp> = {};
    for (const path of t.outputs ?? []) {
      const stamp = stampFile(join(this.root, path));
      if (!stamp) {
        return this.fail(name, new EngineError('missing-output', `the build did not write ${path}, which it declares in outputs`, { target: name, hint: `write ${path} in the build, or remove it from outputs` }), started);
      }
      outputs[path] = stamp;
    }
    // Normalise through JSON so this run's dependents see exactly what a later no-op run reads back.
    const json = JSON.parse(JSON.stringify(result ?? null)) as Json;
    const resultHash = hashJson(json);
    const ms = performance.now() - started;
    if (!forgotten.has(name)) this.store.put({ schema: SCHEMA, name, key: key!, manifest: manifest!, result: json, resultHash, outputs, builtAt: new Date().toISOString(), ms: Math.round(ms) });
    for (const n of forgotten) this.store.remove(n);
    this.resultHashes.set(name, resultHash);
    this.finish(name, { outcome: 'built', reason, result: json, ms });
  }
}
