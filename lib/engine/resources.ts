// Run resources: values the builds and probes of one run share (a pool of connections, the cached reads
// of a remote machine), created on first use through `ctx.use`, disposed when the run ends. The engine
// knows nothing of what they hold; a project declares each one with `runResource()`.

import type { AnyTarget } from './target.ts';

/** What a resource's `create` is handed: the run's registered targets (to read what they declare), root and state directory. */
export type RunInfo = { targets: readonly AnyTarget[]; root: string; outDir: string };

export type ResourceSpec<T> = {
  /** For messages. */
  name: string;
  /** Makes this run's value. Synchronous and cheap: connect lazily, on the value's first request. */
  create(run: RunInfo): T;
  /** Called once when the run ends, for a value `create` made (never for a provided one). */
  dispose?(value: T): void | Promise<void>;
};

/** Anything that carries the engine's `use`: the BuildContext and ArtefactContext the engine makes. */
export type ResourceUser = { use?: <V>(resource: RunResource<V>) => V };

/** A declared resource: the key a context's `use` looks values up by. */
export interface RunResource<T> extends ResourceSpec<T> {
  /** This run's value from a build's or probe's context: `nodeFleet.of(ctx)`. */
  of(ctx: ResourceUser): T;
}

/**
 * Declares a run resource. The object is the key: one per kind of resource, made once at module load;
 * every run makes its own value from it (or is given one, see `provide`).
 */
export function runResource<T>(spec: ResourceSpec<T>): RunResource<T> {
  const resource: RunResource<T> = {
    ...spec,
    of(ctx) {
      // Contexts made by hand (a test calling a build directly) have no `use`: say so, not a TypeError.
      if (!ctx.use) throw new Error(`run resource ${spec.name}: this context has no use(); run the target through runBuild or cleanTargets`);
      return ctx.use(resource);
    },
  };
  return resource;
}

/** A value given to a run for a resource instead of its `create` (a test's fake). Made by `provide`. */
export type Provided = { readonly resource: RunResource<unknown>; readonly value: unknown };

/** Hands a run `value` for `resource`: `runBuild({ resources: [provide(nodeFleet, fake)] })`. Typed: the value must be a T. */
export function provide<T>(resource: RunResource<T>, value: T): Provided {
  return { resource: resource as RunResource<unknown>, value };
}

/** One run's resource values: made on first `use`, disposed (those made here, last made first) by `dispose`. */
export class ResourceScope {
  private readonly values = new Map<RunResource<unknown>, unknown>();
  private readonly made: RunResource<unknown>[] = [];

  constructor(
    private readonly run: RunInfo,
    provided: readonly Provided[] = [],
  ) {
    for (const { resource, value } of provided) this.values.set(resource, value);
  }

  /** Bound, so it can be handed out as `ctx.use`. */
  readonly use = <T>(resource: RunResource<T>): T => {
    const key = resource as RunResource<unknown>;
    if (this.values.has(key)) return this.values.get(key) as T;
    const value = resource.create(this.run);
    this.values.set(key, value);
    this.made.push(key);
    return value;
  };

  /**
   * Disposes what this scope made. Every build and probe of the run has finished; a failing dispose
   * (a socket already gone) cannot change what the run did, so it is not reported.
   */
  async dispose(): Promise<void> {
    for (const resource of this.made.splice(0).reverse()) {
      const value = this.values.get(resource);
      this.values.delete(resource);
      try {
        await resource.dispose?.(value);
      } catch {
        /* see above */
      }
    }
  }
}
