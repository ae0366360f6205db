// The one error model: every expected error is a HarderError with a kind, the facts of that kind and a hint; the classes projects and helpers throw live here, rendered by lib/cli/render-error.ts.
//
// Imports nothing: the CLI loads this module on every run (instanceof checks), so it must stay cheap.

/** What the engine (lib/engine) reports about the graph, the request and a run, one EngineError each. */
export const ENGINE_ERROR_KINDS = [
  'duplicate-target',
  'unknown-dependency',
  'cycle',
  'bad-target',
  'unknown-target',
  'missing-input',
  'build-failed',
  'bad-result',
  'missing-output',
  'lock-held',
  'output-unwritable',
  'needs-yes',
  'precious-changed',
  'clean-failed',
] as const;

/** What the command line (lib/cli) and a project's `configure` or commands report before anything runs. */
export const CLI_ERROR_KINDS = ['bad-flag', 'bad-option', 'bad-command-args', 'bad-argument'] as const;

/** What builds and the helpers under lib/ report: the causes of `build-failed` and `clean-failed`. */
export const DOMAIN_ERROR_KINDS = ['command-failed', 'tool-missing', 'bad-input', 'download-failed', 'docker-failed', 'machine-failed', 'step-failed'] as const;

/** Every kind; `internal` is anything thrown that is not a HarderError (a bug). The renderer's switch covers each. */
export const ERROR_KINDS = [...ENGINE_ERROR_KINDS, 'invalid-graph', ...CLI_ERROR_KINDS, ...DOMAIN_ERROR_KINDS, 'internal'] as const;

export type EngineErrorKind = (typeof ENGINE_ERROR_KINDS)[number];
export type CliErrorKind = (typeof CLI_ERROR_KINDS)[number];
export type DomainErrorKind = (typeof DOMAIN_ERROR_KINDS)[number];
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Facts of engine errors: the target concerned and extra lines (the dependents a clean invalidates...). */
export type EngineFacts = { target?: string; details: readonly string[] };

/** A command that ran (or tried to) and failed: what was run, how it ended, and the last of what it printed. */
export type CommandFacts = {
  /** Program and arguments as run (no shell). */
  argv: readonly string[];
  /** The exit code; absent when it was killed, timed out or never started. */
  exitCode?: number;
  /** The signal that ended it. */
  signal?: string;
  /** How it ended when there is no exit code (`timed out after 60 s`, `could not start (EACCES)`). */
  reason?: string;
  /** Its last lines of output, oldest first (stdout and stderr as they came, or stderr when kept apart). */
  tail: readonly string[];
  /** The node container it ran in (`docker exec`); absent for a host command. */
  node?: string;
  /** The directory it ran in, when one was given. */
  cwd?: string;
};

type NoFacts = Record<never, never>;

/** The facts each kind carries: what the renderer, and a caller deciding what to do, may rely on. */
export interface ErrorFacts {
  /** Two registered targets share a name, or a dependency is a different object with a registered name. */
  'duplicate-target': EngineFacts;
  /** A dependency names a target that is not in the registry. */
  'unknown-dependency': EngineFacts;
  /** The dependency graph has a cycle (the message prints it `a → b → a`). */
  cycle: EngineFacts;
  /** A target object is malformed (bad name, deps not an object, a glob in inputs...). */
  'bad-target': EngineFacts;
  /** A requested name is neither a target, nor an alias, nor a group. */
  'unknown-target': EngineFacts;
  /** The graph or the request is invalid: every problem found, each an engine error of its own. */
  'invalid-graph': { problems: readonly HarderError[] };
  /** A declared input file does not exist. */
  'missing-input': EngineFacts;
  /** The build function threw or rejected; the error it threw is the `cause`. */
  'build-failed': EngineFacts;
  /** The build returned something that is not JSON (undefined, a Date, a function, NaN...). */
  'bad-result': EngineFacts;
  /** The build finished but did not write a file it declares in `outputs`. */
  'missing-output': EngineFacts;
  /** Another run holds the lock on the state directory. */
  'lock-held': EngineFacts;
  /** The output/state directory cannot be created or written (permissions, read-only, full, not a directory). */
  'output-unwritable': EngineFacts;
  /** Cleaning a precious target, or a run that would remove something, needs --yes. */
  'needs-yes': EngineFacts;
  /** A precious target would be rebuilt over what it made (inputs changed, artefact damaged) without --force naming it. */
  'precious-changed': EngineFacts;
  /** A clean function threw (the `cause`), or an output could not be removed. */
  'clean-failed': EngineFacts;
  /** An unknown flag, a flag missing its value, a malformed value. */
  'bad-flag': NoFacts;
  /** A project option or config that cannot be turned into a config: every problem, one line each. */
  'bad-option': { problems?: readonly string[] };
  /** A project command (`load <image…>`) given wrong arguments. */
  'bad-command-args': NoFacts;
  /** A positional argument that cannot name a target: empty, or `clean:` with nothing after it. */
  'bad-argument': NoFacts;
  /** A command (on the host or in a node) exited non-zero, was killed, timed out or could not start. */
  'command-failed': CommandFacts;
  /** A program (or a toolchain recent enough) is not installed. */
  'tool-missing': { program: string };
  /** An input file is wrong; `field` is the dotted/indexed path of the part at fault (`hosts[2]`). */
  'bad-input': { file: string; field?: string };
  /** A download failed: unreachable, HTTP status, truncated, checksum mismatch. */
  'download-failed': { url: string; status?: number };
  /** The Docker engine is unreachable, or refused or failed a request (no such container, conflict...). */
  'docker-failed': NoFacts;
  /** A machine reached over SSH cannot be used: unreachable, key refused, host key unknown or changed, wrong OS, no root. */
  'machine-failed': { machine: string; address: string };
  /** A step's own check failed: the message says what, the hint what to do. */
  'step-failed': NoFacts;
  /** Not an expected error: anything else thrown. */
  internal: NoFacts;
}

/** Compile-time check that ErrorFacts has exactly one entry per kind. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const FACTS_COVER_KINDS: Same<keyof ErrorFacts, ErrorKind> = true;

/** The base of every expected error: a kind, its facts, a one-line message naming what is at fault, and a hint. */
export class HarderError<K extends ErrorKind = ErrorKind> extends Error {
  readonly kind: K;
  readonly facts: ErrorFacts[K];
  /** What the user can do about it, in one line. */
  readonly hint: string | undefined;

  constructor(kind: K, message: string, facts: ErrorFacts[K], options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.facts = facts;
    this.hint = options.hint;
  }
}

/** Any expected error as a union over kinds: a `switch (e.kind)` narrows `e.facts`. */
export type AnyHarderError = { [K in ErrorKind]: HarderError<K> }[ErrorKind];

/** The hint of a thrown value: only expected errors carry one. */
export function hintOf(error: unknown): string | undefined {
  return error instanceof HarderError ? error.hint : undefined;
}

/** The message of anything thrown, without assuming it is an Error. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---- what projects and helpers throw ------------------------------------------------------------

/** A step's own check failed (a bad version, a missing file it needs, a cluster that is not ready). */
export class StepError extends HarderError<'step-failed'> {
  constructor(message: string, hint?: string, options: { cause?: unknown } = {}) {
    super('step-failed', message, {}, { hint, cause: options.cause });
  }
}

/** Bad flags, options, config or arguments: exit 2, shown without a stack. */
export class CliError<K extends CliErrorKind = CliErrorKind> extends HarderError<K> {
  constructor(kind: K, message: string, hint?: string, facts?: ErrorFacts[K]) {
    super(kind, message, facts ?? ({} as ErrorFacts[K]), { hint });
  }
}

/** Thrown by a project's `configure` (tasks/config/options.ts) for an invalid option value. */
export class OptionError extends CliError<'bad-option'> {
  constructor(message: string, hint?: string, problems: readonly string[] = [message]) {
    super('bad-option', message, hint, { problems });
  }
}

/**
 * Every problem of a project's config at once (a --config file and the flags, checked before any target is
 * made): one line each, `<file>: <field>: <problem>; <what would be valid>`, rendered one `✗` line per problem.
 */
export class ConfigError extends OptionError {
  get problems(): readonly string[] {
    return this.facts.problems ?? [];
  }
  constructor(problems: readonly string[], hint?: string) {
    super(problems.join('\n'), hint, problems);
  }
}

/** How many lines of output a command failure keeps, and how many of them its message quotes. */
export const COMMAND_TAIL_LINES = 20;
const MESSAGE_TAIL_LINES = 5;

/**
 * A command failed: on the host (lib/run-command.ts: apt-get, go, kubectl, a built binary) or in a node.
 * The message is one line naming the command and how it ended, then its last few lines of output, so it
 * reads on its own wherever it is quoted; the CLI shows the facts as a "command output" block instead.
 */
export class CommandError extends HarderError<'command-failed'> {
  /** Everything it printed that was kept (stdout and stderr as they came). */
  readonly output: string;

  constructor(facts: CommandFacts, options: { hint?: string; cause?: unknown; output?: string } = {}) {
    const quoted = facts.tail.slice(-MESSAGE_TAIL_LINES);
    super('command-failed', `${commandSummary(facts)}${quoted.length ? `:\n${quoted.join('\n')}` : ' (no output)'}`, facts, options);
    this.output = options.output ?? facts.tail.join('\n');
  }

  get argv(): readonly string[] {
    return this.facts.argv;
  }
  get exitCode(): number | undefined {
    return this.facts.exitCode;
  }
  get tail(): readonly string[] {
    return this.facts.tail;
  }
  get node(): string | undefined {
    return this.facts.node;
  }
}

/** A command in a node container exited non-zero (lib/docker/node-access.ts); its stdout and stderr apart. */
export class NodeCommandError extends CommandError {
  readonly stdout: string;
  readonly stderr: string;

  constructor(node: string, argv: readonly string[], exitCode: number, stderr: string, stdout = '') {
    super({ argv, exitCode, node, tail: lastLines(stderr || stdout, COMMAND_TAIL_LINES) }, { hint: `look inside with \`docker exec -it ${node} bash\``, output: stdout + stderr });
    this.stdout = stdout;
    this.stderr = stderr;
  }

  override get node(): string {
    return this.facts.node!;
  }
}

/** A program is not installed (not on PATH, or the path given does not exist), or too old to use. */
export class ToolMissingError extends HarderError<'tool-missing'> {
  constructor(program: string, message: string, hint?: string, options: { cause?: unknown } = {}) {
    super('tool-missing', message, { program }, { hint, cause: options.cause });
  }
  get program(): string {
    return this.facts.program;
  }
}

// ---- formatting a command ----------------------------------------------------------------------

/** argv as a shell would need it typed: words that need it in single quotes. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The last `count` lines of a text, trailing newlines dropped; none for an empty or blank text. */
export function lastLines(text: string, count: number): string[] {
  const trimmed = text.trimEnd();
  return trimmed ? trimmed.split('\n').slice(-count) : [];
}

const SUMMARY_COMMAND_CHARS = 100;

/**
 * One line: which command, where, and how it ended (`worker-1: \`systemctl start kubelet\` exited 1`). The
 * program by its base name and a long command cut short: the command output block shows it whole.
 */
export function commandSummary(facts: CommandFacts): string {
  const [program = '', ...args] = facts.argv;
  let shown = formatArgv([program.slice(program.lastIndexOf('/') + 1), ...args]);
  if (shown.length > SUMMARY_COMMAND_CHARS) {
    const cut = shown.lastIndexOf(' ', SUMMARY_COMMAND_CHARS);
    shown = `${shown.slice(0, cut > 0 ? cut : SUMMARY_COMMAND_CHARS)} …`;
  }
  const ended = facts.exitCode !== undefined ? `exited ${facts.exitCode}` : (facts.reason ?? (facts.signal ? `ended by ${facts.signal}` : 'failed'));
  return `${facts.node ? `${facts.node}: ` : ''}\`${shown}\` ${ended}`;
}

/** The command line a user can paste to run it again: `docker exec <node> …` for a node, `cd <dir> && …` for a directory. */
export function commandLine(facts: CommandFacts): string {
  const line = formatArgv(facts.argv);
  if (facts.node) return `docker exec ${facts.node} ${line}`;
  return facts.cwd ? `cd ${formatArgv([facts.cwd])} && ${line}` : line;
}
