// The target model: what a unit of work declares. The engine (lib/engine/) reads these
// objects; it knows nothing about what the build functions do.

import type { RunResource } from './resources.ts';

/** A JSON value. Target results must be JSON so they can be stored, hashed and compared. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Any target, whatever its result and dependency types. Used where the engine handles targets generically. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTarget = Target<any, any>;

/** The dependencies of a target: a record from a local alias to the target it names. */
export type DepMap = Record<string, AnyTarget>;

/** The typed result of a target. */
// `any` for the deps: `build` is contravariant in them, so matching against DepMap would fail for named deps.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ResultOf<T> = T extends Target<infer R, any> ? R : never;

/** What a build function receives for its dependencies: each alias mapped to that target's result. */
export type DepResults<D extends DepMap> = { [K in keyof D]: ResultOf<D[K]> };

/**
 * Declared inputs. Everything here goes into the target's key, so a change to any of them makes the
 * target stale, and `--explain` can name which one changed.
 */
export interface Inputs {
  /** Files relative to the project root, each named (a glob is a graph error), hashed by content (through the stat cache). */
  files?: string[];
  /** Plain values, e.g. the config fields the target reads. Shown by name (from → to) in explanations. */
  values?: Record<string, Json>;
  /** Names of environment variables the build reads; their values are part of the key. */
  env?: string[];
}

/** Handed to `build`: dependency results plus what a long-running build needs. */
export interface BuildContext<D extends DepMap> {
  /** The results of the dependencies, by the aliases given in `deps`. */
  deps: DepResults<D>;
  /** Aborted when the run is cancelled (first failure without --keep-going, or SIGINT). */
  signal: AbortSignal;
  /** One progress line attributed to this target (shown by the progress view, kept in the log). */
  log(message: string): void;
  /** The project root (where tasks.ts lives). */
  root: string;
  /** The state directory, `output/` by default. */
  outDir: string;
  /** The result of the last successful build, if any; lets a build reuse what is still valid. */
  previous: unknown;
  /** Why the engine decided to run this target, as one line (what --explain prints). */
  reason: string;
  /**
   * This run's value of a run resource (lib/engine/resources.ts), made on first use and disposed when the
   * run ends. Always set by the engine; optional only so a test may call a build by hand. Read it
   * through the resource: `nodeFleet.of(ctx)`.
   */
  use?<T>(resource: RunResource<T>): T;
  /**
   * Drops the records of these targets once this build succeeds (for a target that removes what
   * they made: the next run finds nothing recorded for them). May name the target itself, which is
   * then not recorded either. Always set by the engine (optional only for hand-made contexts in tests).
   */
  forget?(names: string[]): void;
}

/** Handed to `probe` and `clean`. */
export interface ArtefactContext {
  signal: AbortSignal;
  log(message: string): void;
  root: string;
  outDir: string;
  /** As BuildContext.use: the same values as the run's builds get. */
  use?<T>(resource: RunResource<T>): T;
}

/**
 * A unit of work. Plain data plus functions; create it with `target()` so TypeScript infers the result
 * and dependency types and checks every use of `ctx.deps`.
 */
export interface Target<R extends Json, D extends DepMap = DepMap> {
  /** Unique name; the part before the first `:` is its group (`certs:ca` is in group `certs`). */
  name: string;
  /** One line for `--help` and the docs. */
  description: string;
  /** The targets whose results this one reads, under local aliases. */
  deps: D;
  /**
   * Ordering only (ninja's order-only dependencies): these build first whenever they are in the run, and
   * a failure among them skips this target, but their results are neither read nor part of the key. So a
   * project may add or drop one between runs (a step that exists only while something changes) without
   * making this target stale.
   */
  orderOnly?: DepMap;
  /** Declared inputs beyond the dependencies. */
  inputs?: Inputs;
  /** Bump when the build function changes in a way that must invalidate old results. */
  version?: number;
  /**
   * Files (relative to the project root) this target writes and owns. They are hashed after the build;
   * a missing or modified file makes the target stale. `clean:` removes exactly these.
   */
  outputs?: string[];
  /**
   * Does the work; returns a JSON result that dependents receive. Must be deterministic in what it
   * returns for what it did: dependents rebuild only when this result changes (early cutoff).
   * Targets with no build function are aliases (phony targets) that only group their dependencies.
   */
  build?: (ctx: BuildContext<D>) => Promise<R>;
  /**
   * For artefacts that live outside `output/` (a container, a file on a node): checks that what the
   * stored result describes still exists and matches. Returns undefined when it does, or a one-line
   * reason when it does not (the target is then rebuilt, and the reason is shown by --explain).
   */
  probe?: (result: R, ctx: ArtefactContext) => Promise<string | undefined>;
  /** Removes what the target made outside its `outputs` (containers, images...). */
  clean?: (result: R | undefined, ctx: ArtefactContext) => Promise<void>;
  /**
   * Set on targets whose loss is expensive or that others trust (the CA). Cleaning it asks for --yes
   * and says what will have to be rebuilt. Once built it is never rebuilt as a side effect: a changed
   * input or a damaged artefact stops the run (kind precious-changed) unless --force names it.
   */
  precious?: boolean;
  /**
   * Checks and reports (smoke tests, certificate checks) that must run every time they are requested,
   * whatever their key. Their result is still stored and passed to dependents.
   */
  alwaysRun?: boolean;
  /**
   * Set on targets whose build removes something (a node and its workload). The engine refuses a run
   * in which any of them would build unless it is given `yes` (the CLI's --yes), naming all of them in
   * one error (kind needs-yes) before anything runs; a dry run lists them. A string says what it
   * removes, for those messages (`harder-worker-3 (node worker-3)`); `true` uses the target's name.
   */
  destructive?: boolean | string;
  /**
   * Builds of this target take a slot of this pool before their job slot (ninja's pools): for work that
   * uses every core by itself, such as a compiler, so two of them never run at once and one waiting
   * for its pool holds no job slot that other work (a download) could use.
   */
  pool?: Pool;
}

/** A pool of build slots shared by the targets that name it; see Target.pool. Make one with pool(). */
export type Pool = { readonly name: string; readonly depth: number };

/** A pool named `name` (for messages) that lets `depth` builds of its targets run at once. */
export function pool(name: string, depth: number): Pool {
  return Object.freeze({ name, depth });
}

/**
 * Declares a target with its types inferred: `R` from the build function's return type, `D` from `deps`.
 * A build that reads `ctx.deps.ca.certPem` fails to compile if the `ca` dependency's result has no such field.
 */
export function target<R extends Json, D extends DepMap = {}>(spec: Target<R, D>): Target<R, D> {
  return spec;
}

/** An alias: a target with no build of its own that stands for its dependencies (`certs`, `cluster`). */
export function alias(name: string, description: string, members: AnyTarget[]): Target<null, DepMap> {
  const deps: DepMap = {};
  for (const member of members) deps[member.name] = member;
  return { name, description, deps };
}

/** The group of a target name: `certs:ca` → `certs`; a name without a colon is its own group. */
export function groupOf(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}
