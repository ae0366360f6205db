// clean: removes what the named targets own (their `outputs` files and state records) and calls their
// clean() for artefacts outside output/. Never touches anything a target does not declare. A dry run
// lists what a real clean would remove and changes nothing (no lock, no clean() call, no needs-yes).

import { lstatSync, unlinkSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { AnyTarget, ArtefactContext } from './target.ts';
import { EngineError, hintOf, messageOf } from './errors.ts';
import { buildGraph, checkRequested, closure, type Graph } from './graph.ts';
import { acquireLock } from './lock.ts';
import { journalPath, StateStore } from './state.ts';
import { summarizeNames } from './summarize.ts';
import { removeStaleTemps } from './temp-files.ts';
import { ResourceScope, type Provided } from './resources.ts';
import type { Failure } from './types.ts';

export type CleanOptions = {
  targets: readonly AnyTarget[];
  /** Target, alias or group names. */
  requested: readonly string[];
  root: string;
  outDir?: string;
  /** Required when a precious target is among those cleaned (not for a dry run, which removes nothing). */
  yes?: boolean;
  /** List what would be removed; remove nothing, call no clean(), take no lock. */
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Receives clean() functions' ctx.log lines. */
  log?: (target: string, message: string) => void;
  /** As BuildOptions.resources: values for run resources, owned by the caller. */
  resources?: readonly Provided[];
};

export type CleanReport = {
  ok: boolean;
  /** Targets cleaned, dependents first. */
  cleaned: string[];
  /** What was removed (in a dry run: would be): project-relative files, and "state of <target>" for records. */
  removed: string[];
  /** Targets whose clean() ran (in a dry run: would run) for what they made outside their files. */
  external: string[];
  /** A dry run: nothing was removed. */
  dryRun: boolean;
  /** Precious targets among those cleaned: a dry run without `yes` lists them instead of refusing. */
  needsYes: string[];
  /** Temp files (project-relative) that killed runs left beside any target's owned files or the state files, removed (dry run: would be). */
  removedTemps: string[];
  /** Targets with state that depend on a cleaned one: the next build rebuilds them if results change. */
  dependents: string[];
  failures: Failure[];
};

/**
 * The targets a clean request covers: a target; an alias's or group's members, through nested aliases.
 * A name that is both an alias and a group (`certs` builds the whole PKI, and `certs:*` are the
 * certificates) cleans the group: a destructive request takes its narrowest reading, so `clean:certs`
 * removes certificates and keys and leaves what was merely built with them to be rebuilt.
 */
function cleanMembers(graph: Graph, requested: readonly string[]): string[] {
  const out = new Set<string>();
  const add = (name: string): void => {
    if (out.has(name)) return;
    const t = graph.byName.get(name)!;
    if (t.build) {
      out.add(name);
      return;
    }
    out.add(name); // aliases own nothing, but mark them seen
    for (const [, dep] of graph.deps.get(name)!) add(dep);
  };
  for (const name of requested) {
    const group = (graph.groups.get(name) ?? []).filter((member) => member !== name);
    const isAlias = graph.byName.has(name) && !graph.byName.get(name)!.build;
    if (graph.byName.has(name) && !(isAlias && group.length)) add(name);
    else for (const member of group) add(member);
  }
  return [...out].filter((name) => graph.byName.get(name)!.build);
}

/** Transitive dependents of `names` that have state, excluding `names` (what will have to be rebuilt). */
function dependentsWithState(graph: Graph, names: string[], store: StateStore): string[] {
  const seen = new Set(names);
  const queue = [...names];
  const found: string[] = [];
  while (queue.length) {
    for (const dependent of graph.dependents.get(queue.shift()!)!) {
      if (seen.has(dependent)) continue;
      seen.add(dependent);
      queue.push(dependent);
      if (graph.byName.get(dependent)!.build && store.get(dependent).kind === 'ok') found.push(dependent);
    }
  }
  return found.sort();
}

/** Cleans the requested targets. Throws needs-yes (before removing anything) for precious targets without `yes`. */
export async function cleanTargets(opts: CleanOptions): Promise<CleanReport> {
  const graph = buildGraph(opts.targets);
  checkRequested(graph, opts.requested);
  const root = resolve(opts.root);
  const outDir = resolve(opts.outDir ?? join(root, 'output'));
  const members = cleanMembers(graph, opts.requested);
  const before = new StateStore(outDir);
  const dependents = dependentsWithState(graph, members, before);
  const precious = members.filter((name) => graph.byName.get(name)!.precious);
  const membersBuilt = members.filter((name) => before.get(name).kind === 'ok');
  // Dependents first, so a container is removed before the network it sits on.
  const ordered = closure(graph, members).filter((name) => members.includes(name)).reverse();
  const temps = (dry: boolean): string[] => removeStaleTemps(knownFiles(graph, root, outDir), dry).map((path) => relative(root, path));
  if (opts.dryRun) return { ...dryRun(graph, ordered, before, root, dependents, opts.yes ? [] : precious), removedTemps: temps(true) };
  if (precious.length && !opts.yes) {
    throw new EngineError('needs-yes', `${precious.join(', ')} ${precious.length > 1 ? 'are' : 'is'} precious: cleaning ${precious.length > 1 ? 'them' : 'it'} invalidates what was made from ${precious.length > 1 ? 'them' : 'it'}`, {
      target: precious[0],
      // Both lists are re-made by the next build: what the clean removes, and what was built from it.
      details: [
        `removes: ${summarizeNames(membersBuilt) || 'nothing (none of it is built yet)'}`,
        dependents.length ? `will have to be rebuilt: ${summarizeNames(dependents)}` : 'nothing else built depends on it',
      ],
      hint: 'run again with --yes to clean anyway',
    });
  }
  const lock = acquireLock(outDir, 'clean');
  // With the lock held (as a build does): a temp whose writer is gone is garbage, often a key's copy.
  const removedTemps = temps(false);
  const store = new StateStore(outDir);
  const removed: string[] = [];
  const failures: Failure[] = [];
  const signal = opts.signal ?? new AbortController().signal;
  const external: string[] = [];
  const resources = new ResourceScope({ targets: opts.targets, root, outDir }, opts.resources);
  try {
    for (const name of ordered) {
      const t = graph.byName.get(name)!;
      const read = store.get(name);
      const result = read.kind === 'ok' ? read.record.result : undefined;
      // The record goes first: a clean interrupted half-way leaves the target "never built", never "up to date".
      if (store.remove(name)) removed.push(`state of ${name}`);
      for (const path of t.outputs ?? []) {
        try {
          unlinkSync(join(root, path));
          removed.push(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') failures.push({ target: name, kind: 'clean-failed', message: `could not remove ${path}: ${messageOf(error)}` });
        }
      }
      if (t.clean) {
        external.push(name);
        const ctx: ArtefactContext = { signal, root, outDir, log: (message) => opts.log?.(name, message), use: resources.use };
        try {
          await t.clean(result, ctx);
        } catch (error) {
          failures.push({ target: name, kind: 'clean-failed', message: `clean failed: ${messageOf(error)}`, hint: hintOf(error), cause: error });
        }
      }
    }
  } finally {
    store.close();
    lock.release();
    await resources.dispose();
  }
  return { ok: failures.length === 0, cleaned: ordered, removed, external, dependents, failures, dryRun: false, needsYes: [], removedTemps };
}

/** The files whose stale temps a locked run removes: every registered target's outputs, and the state files. */
function knownFiles(graph: Graph, root: string, outDir: string): string[] {
  const files = [journalPath(outDir), join(outDir, '.harder', 'stat-cache.tsv')];
  for (const t of graph.byName.values()) for (const path of t.outputs ?? []) files.push(join(root, path));
  return files;
}

/** What a clean of `ordered` would remove, read without the lock; nothing is changed. */
function dryRun(graph: Graph, ordered: string[], store: StateStore, root: string, dependents: string[], needsYes: string[]): Omit<CleanReport, 'removedTemps'> {
  const removed: string[] = [];
  const external: string[] = [];
  for (const name of ordered) {
    const t = graph.byName.get(name)!;
    if (store.get(name).kind !== 'missing') removed.push(`state of ${name}`);
    for (const path of t.outputs ?? []) if (lstatSync(join(root, path), { throwIfNoEntry: false })) removed.push(path);
    if (t.clean) external.push(name);
  }
  return { ok: true, cleaned: ordered, removed, external, dependents, failures: [], dryRun: true, needsYes };
}
