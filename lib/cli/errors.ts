// CLI-level errors (bad flags, bad project options, bad command arguments). Engine errors are in
// lib/engine/errors.ts; lib/cli/render-error.ts renders both kinds in one exhaustive switch.

export type CliErrorKind =
  /** An unknown flag, a flag missing its value, a malformed value. */
  | 'bad-flag'
  /** A project option (tasks/config/options.ts) that cannot be turned into a config. */
  | 'bad-option'
  /** A project command (`load <image…>`) given wrong arguments. */
  | 'bad-command-args'
  /** A positional argument that cannot name a target: empty, or `clean:` with nothing after it. */
  | 'bad-argument';

export class CliError extends Error {
  readonly kind: CliErrorKind;
  readonly hint: string | undefined;
  constructor(kind: CliErrorKind, message: string, hint?: string) {
    super(message);
    this.name = 'CliError';
    this.kind = kind;
    this.hint = hint;
  }
}

/** Thrown by a project's `configure` (tasks/config/options.ts) for an invalid option value; shown without a stack. */
export class OptionError extends CliError {
  constructor(message: string, hint?: string) {
    super('bad-option', message, hint);
    this.name = 'OptionError';
  }
}

/**
 * Every problem of a project's config at once (tasks/config/options.ts checks a --config file and the flags
 * before any target is made): one line each, `<file>: <field>: <problem>; <what would be valid>`.
 * Rendered as one `✗` line per problem; exit 2 like any OptionError.
 */
export class ConfigError extends OptionError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[], hint?: string) {
    super(problems.join('\n'), hint);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
