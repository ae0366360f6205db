// The engine's public API: run a build, clean targets, read stored results, render the graph.
// The engine knows nothing of what targets do; see lib/engine/target.ts for the target model.

export { runBuild } from './executor.ts';
export { cleanTargets, type CleanOptions, type CleanReport } from './clean.ts';
export { readStoredResult, readRecord, recordedTargets, journalPath, StateStore, type RecordedTargets, type TargetRecord, type Manifest } from './state.ts';
export { graphDot, graphStates, STATE_COLOURS, type NodeState } from './dot.ts';
export { EngineError, InvalidGraphError, type EngineErrorKind } from './errors.ts';
export { hashCounter } from './stat-cache.ts';
export { buildGraph, closure, membersOf } from './graph.ts';
export { suggest } from './suggest.ts';
export type { BuildOptions, BuildReport, Entry, Failure, Outcome, Reporter } from './types.ts';
