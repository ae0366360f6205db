// Runs one host command (apt-get, debootstrap, go, kubectl, a built binary) through execa, with argv arrays and
// never a shell: streams its output lines to a progress sink and turns failure into one CommandError
// (lib/errors.ts) carrying argv, exit code and last lines. A missing program is a ToolMissingError with the
// caller's install hint. execa (~130 modules) is imported on first use: a no-op run never spawns anything.

import { existsSync } from 'node:fs';
import { COMMAND_TAIL_LINES, CommandError, ToolMissingError, lastLines, type CommandFacts } from './errors.ts';

export { CommandError, ToolMissingError } from './errors.ts';

export type RunCommandOptions = {
  env?: Record<string, string>;
  cwd?: string;
  signal?: AbortSignal;
  /** Receives every non-empty line of stdout and stderr as it arrives (progress). */
  onLine?: (line: string) => void;
  /** Text fed to its stdin; without it stdin is closed. */
  input?: string;
  /** Stops it (SIGTERM) after this long; the failure says it timed out. */
  timeoutMs?: number;
  /** How many of the last lines a failure keeps (default 20). */
  tailLines?: number;
  /** The program in words, for a missing-program message (`the Go toolchain is not installed: \`go\` was not found`). */
  toolName?: string;
  /** The hint when the program is not installed. */
  missingHint?: string;
  /** The hint when it ran and failed. */
  failHint?: string;
};

export type CommandResult = {
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved as they came. */
  all: string;
  /** Undefined when it was killed or timed out (only seen with allowFailure). */
  exitCode: number | undefined;
};

/**
 * Runs argv; resolves with what it printed, or throws CommandError when it exits non-zero, is killed or
 * times out — unless `allowFailure`, which returns the result. A missing program always throws ToolMissingError;
 * an aborted signal rejects with its reason.
 */
export async function runCommandResult(argv: readonly string[], options: RunCommandOptions & { allowFailure?: boolean } = {}): Promise<CommandResult> {
  const [command, ...args] = argv;
  if (!command) throw new CommandError({ argv, reason: 'could not start: no command given', tail: [] });
  const { execa } = await import('execa');
  const child = execa(command, args, {
    all: true,
    reject: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    cwd: options.cwd,
    env: options.env,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    stripFinalNewline: false,
  });
  if (options.onLine) {
    // Split each stream on its own: a partial line of stdout must not run into a line of stderr.
    const onLine = options.onLine;
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) onLine(line);
      });
      stream?.on('end', () => partial.trim() && onLine(partial));
    }
  }
  const result = await child;
  const text = (value: unknown): string => (typeof value === 'string' ? value : '');
  const out: CommandResult = { stdout: text(result.stdout), stderr: text(result.stderr), all: text(result.all), exitCode: result.exitCode };
  if (!result.failed) return out;
  options.signal?.throwIfAborted();
  const code = (result as { code?: string }).code;
  const facts: CommandFacts = { argv, tail: lastLines(out.all, options.tailLines ?? COMMAND_TAIL_LINES), ...(options.cwd ? { cwd: options.cwd } : {}) };
  if (code === 'ENOENT') {
    // spawn says ENOENT for a missing working directory too.
    if (options.cwd && !existsSync(options.cwd)) throw new CommandError({ ...facts, reason: `could not start: ${options.cwd} does not exist` });
    const missing = command.includes('/') ? `\`${command}\` does not exist` : `\`${command}\` is not installed (not found on PATH)`;
    const message = options.toolName ? `${options.toolName} is not installed: \`${command}\` was not found` : missing;
    throw new ToolMissingError(command, message, options.missingHint);
  }
  if (options.allowFailure) return out;
  if (result.exitCode !== undefined) facts.exitCode = result.exitCode;
  else if (result.timedOut) facts.reason = `timed out after ${Number((options.timeoutMs! / 1000).toFixed(1))} s`;
  else if (result.signal) facts.signal = result.signal;
  else facts.reason = `could not start${code ? ` (${code})` : ''}`;
  throw new CommandError(facts, { hint: options.failHint, output: out.all });
}

/** Runs argv; resolves with stdout and stderr as they came (interleaved by chunk), or throws CommandError. */
export async function runCommand(argv: readonly string[], options: RunCommandOptions = {}): Promise<string> {
  return (await runCommandResult(argv, options)).all;
}
