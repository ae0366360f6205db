// Engine errors as values with a kind: every failure the engine can report has a kebab-case kind, the
// target it concerns, and a hint. The CLI renders them in one exhaustive switch (lib/cli/render-error.ts).

/** Every kind of problem the engine reports. Adding one fails to compile until the CLI can render it. */
export type EngineErrorKind =
  /** Two registered targets share a name, or a dependency is a different object with a registered name. */
  | 'duplicate-target'
  /** A dependency names a target that is not in the registry. */
  | 'unknown-dependency'
  /** The dependency graph has a cycle (message prints it `a → b → a`). */
  | 'cycle'
  /** A target object is malformed (bad name, deps not an object...). */
  | 'bad-target'
  /** A requested name is neither a target, nor an alias, nor a group. */
  | 'unknown-target'
  /** A declared input file does not exist. */
  | 'missing-input'
  /** The build function threw or rejected. */
  | 'build-failed'
  /** The build returned something that is not JSON (undefined, a Date, a function, NaN...). */
  | 'bad-result'
  /** The build finished but did not write a file it declares in `outputs`. */
  | 'missing-output'
  /** Another run holds the lock on the state directory. */
  | 'lock-held'
  /** The output/state directory cannot be created or written (permissions, read-only, full, not a directory). */
  | 'output-unwritable'
  /** Cleaning a precious target needs --yes. */
  | 'needs-yes'
  /** A precious target would be rebuilt over what it made (inputs changed, artefact damaged) without --force naming it. */
  | 'precious-changed'
  /** A clean function threw. */
  | 'clean-failed';

/** One engine problem. `details` are extra lines (a list of dependents, a cycle...). */
export class EngineError extends Error {
  readonly kind: EngineErrorKind;
  readonly target: string | undefined;
  readonly hint: string | undefined;
  readonly details: string[];
  /** The original exception for build failures; its stack is shown only with --verbose. */
  override readonly cause: unknown;

  constructor(kind: EngineErrorKind, message: string, opts: { target?: string; hint?: string; details?: string[]; cause?: unknown } = {}) {
    super(message);
    this.name = 'EngineError';
    this.kind = kind;
    this.target = opts.target;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
    this.cause = opts.cause;
  }
}

/**
 * The graph or the request is invalid. Thrown before anything runs and carries *all* problems found,
 * so a user fixes them in one pass instead of one per run.
 */
export class InvalidGraphError extends Error {
  readonly problems: EngineError[];
  constructor(problems: EngineError[]) {
    super(problems.map((p) => p.message).join('\n'));
    this.name = 'InvalidGraphError';
    this.problems = problems;
  }
}

/** The message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A hint carried by a thrown error (helpers throw Error subclasses with a `hint` field). */
export function hintOf(error: unknown): string | undefined {
  if (error && typeof error === 'object' && 'hint' in error && typeof (error as { hint: unknown }).hint === 'string') {
    return (error as { hint: string }).hint;
  }
  return undefined;
}
