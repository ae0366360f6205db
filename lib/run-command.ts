// Runs one host command (apt-get, debootstrap, gcc, a built binary) through execa, with argv arrays and
// never a shell: streams its output lines to a progress sink and turns failure into one CommandError that
// names the command, its exit code and its last lines. A missing program gets the caller's install hint.

import { HintedError } from './hinted-error.ts';

export class CommandError extends HintedError {
  constructor(
    message: string,
    readonly argv: string[],
    readonly exitCode: number | undefined,
    readonly output: string,
    hint?: string,
  ) {
    super(message, hint);
  }
}

export type RunCommandOptions = {
  env?: Record<string, string>;
  cwd?: string;
  signal?: AbortSignal;
  /** Receives every non-empty line of stdout and stderr as it arrives (progress). */
  onLine?: (line: string) => void;
  /** How many of the last lines a failure quotes. */
  tailLines?: number;
  /** The hint when the program is not installed. */
  missingHint?: string;
  /** The hint when it ran and failed. */
  failHint?: string;
};

/** Runs argv; resolves with stdout and stderr as they came (interleaved by chunk), or throws CommandError. */
export async function runCommand(argv: string[], options: RunCommandOptions = {}): Promise<string> {
  const [command, ...args] = argv;
  if (!command) throw new CommandError('no command to run', argv, undefined, '');
  const { execa } = await import('execa');
  const child = execa(command, args, {
    all: true,
    reject: false,
    stdin: 'ignore',
    cwd: options.cwd,
    env: options.env,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
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
  const output = typeof result.all === 'string' ? result.all : '';
  if (!result.failed) return output;
  options.signal?.throwIfAborted();
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new CommandError(`\`${command}\` is not installed (not found on PATH)`, argv, undefined, '', options.missingHint);
  }
  const tail = output.trimEnd().split('\n').slice(-(options.tailLines ?? 20)).join('\n');
  const status = result.exitCode !== undefined ? `exited ${result.exitCode}` : `ended by ${result.signal ?? 'an error'}`;
  throw new CommandError(`\`${argv.join(' ')}\` ${status}${tail ? `:\n${tail}` : ''}`, argv, result.exitCode, output, options.failHint);
}
