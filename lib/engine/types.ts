// The engine's public types: build options, the report, and the reporter interface progress views implement.

import type { Provided } from './resources.ts';
import type { AnyTarget, Json } from './target.ts';

export type Outcome = 'built' | 'up-to-date' | 'failed' | 'skipped' | 'would-build' | 'cancelled';

/** What happened to one target in a run. */
export type Entry = {
  outcome: Outcome;
  /** One line: why it ran, why it did not, or why it failed/was skipped (what --explain prints). */
  reason: string;
  result?: Json;
  /** Time spent on the target (check + build). */
  ms: number;
  /** Set on aliases (targets without build), which the summary does not count. */
  alias?: boolean;
  /**
   * Up to date after the engine put back what drifted without a rebuild (a file's mode); `reason`
   * says what (`mode of output/pki/ca.key is 0644, want 0600`). In a dry run: would be.
   */
  repaired?: boolean;
};

/** One failure, ready to print. */
export type Failure = { target: string; message: string; hint?: string; kind?: string; cause?: unknown };

export type BuildReport = {
  ok: boolean;
  entries: Record<string, Entry>;
  failures: Failure[];
  /** Wall time of the run. */
  ms: number;
  /** Temp files (project-relative) that killed runs left beside owned or state files, removed first. */
  removedTemps?: string[];
  /** What the destructive targets that would build (dry run) or were allowed to build remove, one line each. */
  destructive?: string[];
};

/** Receives progress events. Every method is optional. */
export type Reporter = {
  /** The run starts: `total` targets to decide (aliases not counted), `names` all visited, aliases included. */
  start?(info: { total: number; names: string[]; dryRun: boolean }): void;
  /** A target's build begins (not called for up-to-date targets). */
  targetStart?(name: string, reason: string): void;
  /** A build called ctx.log. */
  targetLog?(name: string, message: string): void;
  /** A target reached its outcome. */
  targetEnd?(name: string, entry: Entry): void;
  end?(report: BuildReport): void;
};

export type BuildOptions = {
  /** The whole registry. */
  targets: readonly AnyTarget[];
  /** Target, alias or group names. */
  requested: readonly string[];
  /** Project root; files in inputs/outputs are relative to it. */
  root: string;
  /** State directory; default `<root>/output`. */
  outDir?: string;
  /** Maximum concurrent targets; default os.availableParallelism(). */
  jobs?: number;
  /** Rebuild the requested targets (alias/group: their non-precious members) even if up to date. */
  force?: boolean;
  /**
   * Rebuild these targets even if up to date, each for the reason given, which is what --explain and a
   * dry run show as why it runs (a command's own pick: `certs:renew` names each certificate it re-issues
   * and why). Names must be registered; one outside the requested closure is not built.
   */
  rebuild?: Readonly<Record<string, string>>;
  /** Decide what would run and why; run nothing, write nothing. */
  dryRun?: boolean;
  /** After a failure, keep building everything that does not depend on it. */
  keepGoing?: boolean;
  /** Allows destructive targets to build; without it a run in which one would build is refused (needs-yes). */
  yes?: boolean;
  /** Aborting it cancels the run: no new targets start, running builds see their ctx.signal abort. */
  signal?: AbortSignal;
  reporter?: Reporter;
  /**
   * Values for run resources instead of what their `create` makes (`[provide(nodeFleet, fake)]`, a
   * test's fake). The caller owns them: the engine does not dispose them.
   */
  resources?: readonly Provided[];
};
