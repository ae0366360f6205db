// Engine errors as values with a kind: every failure the engine can report has a kebab-case kind (listed
// with the others in lib/errors.ts), the target it concerns, and a hint. The CLI renders them in one
// exhaustive switch (lib/cli/render-error.ts).

import { HarderError, type EngineErrorKind, type EngineFacts, type ErrorFacts } from '../errors.ts';

export { hintOf, messageOf, type EngineErrorKind } from '../errors.ts';

/** One engine problem. `details` are extra lines (a list of dependents, a cycle...). */
export class EngineError<K extends EngineErrorKind = EngineErrorKind> extends HarderError<K> {
  constructor(kind: K, message: string, opts: { target?: string; hint?: string; details?: string[]; cause?: unknown } = {}) {
    const facts: EngineFacts = { target: opts.target, details: opts.details ?? [] };
    super(kind, message, facts as ErrorFacts[K], { hint: opts.hint, cause: opts.cause });
  }
  get target(): string | undefined {
    return (this.facts as EngineFacts).target;
  }
  get details(): readonly string[] {
    return (this.facts as EngineFacts).details;
  }
}

/**
 * The graph or the request is invalid. Thrown before anything runs and carries *all* problems found,
 * so a user fixes them in one pass instead of one per run.
 */
export class InvalidGraphError extends HarderError<'invalid-graph'> {
  constructor(problems: EngineError[]) {
    super('invalid-graph', problems.map((p) => p.message).join('\n'), { problems });
  }
  get problems(): EngineError[] {
    return this.facts.problems as EngineError[];
  }
}
