// What a project hands the CLI: its flags, how they become a config, its targets, and its commands.
// See lib/cli/README.md for how to add a parametrised command such as `load <image…>`.

import type { RecordedTargets } from '../engine/state.ts';
import type { AnyTarget } from '../engine/target.ts';
import type { ProjectFlag } from './args.ts';

/**
 * A parametrised command: `tasks.ts <name> <args…>`. The CLI turns the remaining positionals into
 * `args`, asks for the targets they stand for, adds them to the registry and builds them. The
 * generated targets may depend on any registered target (e.g. the nodes) and are built like any other.
 */
export type ProjectCommand<C> = {
  /** The argument synopsis shown by --help, e.g. `<image…>`. */
  usage: string;
  /** One line for --help. */
  description: string;
  /**
   * The targets to build for these arguments. Throw CliError('bad-command-args', …) (or OptionError)
   * for bad arguments. `registry` is the project's targets, to depend on.
   */
  targets(args: string[], config: C, registry: readonly AnyTarget[]): AnyTarget[];
};

/** What the CLI hands a project's `targets` besides the config. */
export type TargetsContext = { recorded: RecordedTargets };

/** What the CLI hands a project's `configure` besides the flags. */
export type ConfigureContext = { cwd: string; warn(line: string): void };

export type CliProject<C> = {
  /** How the user starts the CLI, for usage lines: `npx tsx tasks.ts`. */
  program: string;
  /** Project flags, turned into a config by `configure`. */
  flags?: ProjectFlag[];
  /**
   * Builds the config from the project flag values; throw OptionError (or ConfigError, for many problems
   * at once) for invalid values. `context.cwd` is where relative paths given by the user start (not the
   * project root); `context.warn` prints a warning line.
   */
  configure?(flags: Record<string, string>, root: string, context: ConfigureContext): C;
  /**
   * Every target for this config. `context.recorded` lists the targets the last runs recorded (read
   * from the journal on first use), e.g. to add a removal for a recorded node no longer in the config.
   */
  targets(config: C, context?: TargetsContext): AnyTarget[];
  commands?: Record<string, ProjectCommand<C>>;
};
