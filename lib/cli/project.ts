// What a project hands the CLI: its flags, how they become a config, its targets, and its commands.
// See lib/cli/README.md for how to add a parametrised command such as `load <image…>`.

import type { AnyTarget, BuildReport, Failure, RecordedTargets } from '../engine/index.ts';
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
   * for bad arguments. `registry` is the project's targets, to depend on. May be async, to check the
   * arguments against something outside (`load`: that Docker has the image) before anything builds.
   */
  targets(args: string[], config: C, registry: readonly AnyTarget[], context: CommandContext): AnyTarget[] | CommandTargets | Promise<AnyTarget[] | CommandTargets>;
  /**
   * Flags of this command alone (`certs:renew --threshold DAYS`): parsed like the project's flags, refused
   * with any other command or target, never seen by `configure` or `record`; their values reach `targets`
   * as `context.flags`. Name them in `usage` too (--help shows it).
   */
  flags?: ProjectFlag[];
  /**
   * A command that builds nothing (`tasks.ts spec`): when present, the CLI calls it instead of building
   * `targets`, after `record`, and exits with the code it returns. `targets` is then never called.
   */
  run?(args: string[], config: C, io: CommandIo): number | Promise<number>;
  /**
   * With `run`: every argument after the command's name is the command's, as given; the CLI parses no
   * flag after it (`tasks.ts kubectl get pods -n kube-system`: `-n` is kubectl's, not --dry-run). Flags
   * before the name are the CLI's as usual. While `run` runs, a first Ctrl-C is left to the program it
   * starts (in the same process group) instead of being taken as "stop the build".
   */
  passthrough?: boolean;
};

/** What a command's `targets` gets besides its arguments: its own flags' values, and where the project and its state are. */
export type CommandContext = {
  /** Values of the command's own `flags` given on this run, by name (boolean flags: "true"). */
  flags: Record<string, string>;
  /** The project root. */
  root: string;
  /** The state directory. */
  outDir: string;
};

/**
 * What a command's `targets` may return instead of a bare list: the targets, and `rebuild`, those of them
 * to rebuild even if up to date, each with the reason --explain and a dry run show (`certs:renew` re-issues
 * the certificates it picked: `expires in 12 days, under --threshold 30`).
 */
export type CommandTargets = { targets: AnyTarget[]; rebuild?: Record<string, string> };

/** What a command's `run` may use: where to print, whether this is a dry run, where the project and its state are. */
export type CommandIo = {
  out(text: string): void;
  dryRun: boolean;
  /** The project root. */
  root: string;
  /** The state directory (`<root>/output`). */
  outDir: string;
  /** The project's targets for this config (what they declare, e.g. the units on each node). */
  registry: readonly AnyTarget[];
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
};

/** What the CLI hands a project's `record`. */
export type RecordContext = {
  /** The state directory (`<root>/output`). */
  outDir: string;
  /** A dry run: record nothing, say what would be recorded. */
  dryRun: boolean;
  /** --explain (or a dry run): say every change field by field. */
  explain: boolean;
  /** Prints one line to stdout. */
  say(line: string): void;
};

/** What the CLI hands a project's `targets` besides the config. */
export type TargetsContext = { recorded: RecordedTargets };

/** What the CLI hands a project's `configure` besides the flags. */
export type ConfigureContext = {
  cwd: string;
  warn(line: string): void;
  /** The state directory (`<root>/output`), where a project may keep what earlier runs recorded. */
  outDir: string;
  /**
   * The run only prints what it knows (`--graph`, `--help`): configure must not reach outside services
   * (the docs draw their graphs this way on machines with no engine, and promise to touch nothing).
   */
  printOnly: boolean;
};

export type CliProject<C> = {
  /** How the user starts the CLI, for usage lines: `npx tsx tasks.ts`. */
  program: string;
  /** Project flags, turned into a config by `configure`. */
  flags?: ProjectFlag[];
  /**
   * The state directory for these flags, when a flag selects one of several (tasks.ts: `--name NAME`, a
   * cluster of its own under output/clusters/). `base` is the default (`<root>/output`, or the CLI's outDir).
   * Called first, before `configure` (whose `context.outDir` is its answer), because what earlier runs
   * recorded lives in the state directory. Throw OptionError for a bad value. Absent: always `base`.
   */
  stateDir?(flags: Record<string, string>, base: string, context: { root: string; cwd: string }): string | Promise<string>;
  /**
   * Builds the config from the project flag values; throw OptionError (or ConfigError, for many problems
   * at once) for invalid values. `context.cwd` is where relative paths given by the user start (not the
   * project root); `context.warn` prints a warning line.
   */
  configure?(flags: Record<string, string>, root: string, context: ConfigureContext): C | Promise<C>;
  /**
   * Persists what this run's options changed (tasks/config/spec.ts records flags in output/spec.json, so
   * the next run keeps them). Called once, when the run goes ahead: after the targets and arguments are
   * checked, before any build, clean or command `run`; never for --help, --graph or a run that lists help.
   * With `dryRun` it must write nothing.
   */
  record?(config: C, context: RecordContext): void | Promise<void>;
  /**
   * Every target for this config. `context.recorded` lists the targets the last runs recorded (read
   * from the journal on first use), e.g. to add a removal for a recorded node no longer in the config.
   */
  targets(config: C, context?: TargetsContext): AnyTarget[];
  commands?: Record<string, ProjectCommand<C>>;
  /**
   * Lines printed after the summary of a successful build (not a dry run): what to do next, e.g. how to
   * use what was built. Gets the build's report, so it can say nothing when the targets it is about did
   * not run, and `program` (how the user starts the CLI).
   */
  notes?(config: C, report: BuildReport, program: string): string[] | Promise<string[]>;
  /**
   * A line printed under a failed build's errors, after the path of the run's log (`<outDir>/last-run.log`):
   * where to look further for these failures (`npx tsx tasks.ts logs` for a node or cluster failure).
   * Called with the builds that ran and failed (not refusals); undefined when nothing more would help.
   */
  failureHint?(failures: readonly Failure[]): string | undefined;
};
