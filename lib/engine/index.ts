// The engine's public API: run a build, clean targets, read stored results, render the graph.
// The engine knows nothing of what targets do; see lib/engine/target.ts for the target model.
//
// Cheap to import (the CLI imports it at start-up, --help included): what loads eagerly is the target
// model, errors, name suggestions and the journal reader. The executor (and what only a build or a clean
// needs: explain, lock, slots, temp files) loads on the first call of runBuild, cleanTargets or graphStates.

import type { CleanOptions, CleanReport } from './clean.ts';
import type { BuildOptions, BuildReport } from './types.ts';

/** Runs a build of the requested targets (see executor.ts). Throws InvalidGraphError (bad graph/request) or lock-held. */
export async function runBuild(opts: BuildOptions): Promise<BuildReport> {
  return (await import('./executor.ts')).runBuild(opts);
}

/** Removes the named targets' outputs and records and calls their clean() (see clean.ts). */
export async function cleanTargets(opts: CleanOptions): Promise<CleanReport> {
  return (await import('./clean.ts')).cleanTargets(opts);
}

export type { CleanOptions, CleanReport } from './clean.ts';
export { readStoredResult, readRecord, recordedTargets, journalPath, StateStore, type RecordedTargets, type TargetRecord, type Manifest } from './state.ts';
export { graphDot, graphStates, STATE_COLOURS, type NodeState } from './dot.ts';
export { EngineError, InvalidGraphError, type EngineErrorKind } from './errors.ts';
export { hashCounter } from './stat-cache.ts';
export { buildGraph, closure, membersOf } from './graph.ts';
export { suggest } from './suggest.ts';
export { summarizeNames } from './summarize.ts';
export { alias, groupOf, pool, target, type AnyTarget, type Json, type Pool, type Target } from './target.ts';
export type { BuildOptions, BuildReport, Entry, Failure, Outcome, Reporter } from './types.ts';
export { provide, runResource, type Provided, type RunInfo, type RunResource } from './resources.ts';
