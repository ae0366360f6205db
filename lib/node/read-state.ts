// The batched read of a node as one command: a fixed bash script that prints the sha256 of many files,
// the size and mtime of many binaries and the state of many units, each after a marker line. Any
// transport that can exec implements NodeHandle.readState with it (readStateByExec).

import type { ExecOptions, ExecResult, NodeReadQuery, NodeState, UnitState } from './handle.ts';

/** What the read asks systemd of a unit (see UnitState). */
const UNIT_PROPERTIES = 'Id,ActiveState,SubState,UnitFileState,Job,ActiveEnterTimestamp';

/**
 * `systemctl show` of the properties UnitState holds, timestamps as `@<unix seconds>` (systemd 248+):
 * the batched read and a single unit's fresh read ask the same.
 */
export const SYSTEMCTL_SHOW_UNITS = ['systemctl', 'show', '--timestamp=unix', `--property=${UNIT_PROPERTIES}`, '--'] as const;

/**
 * Each exec costs a Docker engine ~15 ms of CPU (runc, shim) and an SSH round trip more, and these reads
 * are a no-op run's critical path, so everything runs in one exec: the hashes, the stamps, the units and
 * the declared read-only commands (each as `<name> <argc> argv…`). The script text is fixed; the paths,
 * unit names and commands are arguments (`<file count> <binary count> <unit count> files… binaries…
 * units… commands…`), never spliced into it. Each part's output follows a marker line (a command's is
 * closed by its exit status); a failing part (a missing file) does not stop the others.
 */
const READ_SCRIPT = [
  'nf=$1 nb=$2 nu=$3; shift 3',
  'files=("${@:1:nf}") bins=("${@:nf+1:nb}") units=("${@:nf+nb+1:nu}")',
  'shift $((nf + nb + nu))',
  'echo @@harder:sha256',
  '(( ${#files[@]} )) && sha256sum -- "${files[@]}"',
  'echo @@harder:stat',
  '(( ${#bins[@]} )) && stat --format="%s %Y %n" -- "${bins[@]}"',
  'echo @@harder:units',
  `(( \${#units[@]} )) && ${SYSTEMCTL_SHOW_UNITS.join(' ')} "\${units[@]}"`,
  'while (( $# >= 2 )); do',
  '  name=$1 n=$2; shift 2',
  '  echo "@@harder:command:$name"',
  '  "${@:1:n}"; rc=$?; shift "$n"',
  `  printf '\\n@@harder:exit:%s\\n' "$rc"`,
  'done',
  'exit 0',
].join('\n');
const SECTIONS = ['sha256', 'stat', 'units'] as const;

/** The argv of one read (exported for tests, which run it on the host). */
export function nodeReadArgv(files: readonly string[], binaries: readonly string[], units: readonly string[], commands: Readonly<Record<string, readonly string[]>> = {}): string[] {
  const commandArgs = Object.entries(commands).flatMap(([name, argv]) => [name, String(argv.length), ...argv]);
  return ['bash', '-c', READ_SCRIPT, 'node-state', String(files.length), String(binaries.length), String(units.length), ...files, ...binaries, ...units.map((u) => `${u}.service`), ...commandArgs];
}

/** Parses the read's output; throws when a section marker is missing (the script did not run through). */
export function parseNodeRead(stdout: string, node: string): NodeState {
  const sections = new Map<string, string[]>();
  const outputs = new Map<string, string>();
  let current: string[] | undefined;
  let command: { name: string; lines: string[] } | undefined;
  for (const line of stdout.split('\n')) {
    // Inside a command's output only its exit line ends it (a listing may print anything else).
    const commandExit = command && /^@@harder:exit:(\d+)$/.exec(line);
    const marker = !command && /^@@harder:(\w+)$/.exec(line);
    const commandStart = !command && /^@@harder:command:(.+)$/.exec(line);
    if (marker) sections.set(marker[1]!, (current = []));
    else if (commandStart) current = (command = { name: commandStart[1]!, lines: [] }).lines;
    else if (commandExit && command) {
      // printf's leading newline ends an output that had none; one that had one leaves an empty line.
      if (command.lines.at(-1) === '') command.lines.pop();
      if (commandExit[1] === '0') outputs.set(command.name, command.lines.length ? `${command.lines.join('\n')}\n` : '');
      command = undefined;
      current = undefined;
    } else current?.push(line);
  }
  const missing = SECTIONS.filter((s) => !sections.has(s));
  if (missing.length > 0) throw new Error(`${node}: reading file hashes, binary stamps and unit states did not complete (no ${missing.join(', ')} section); output: ${stdout.slice(0, 300) || '(none)'}`);

  const hashes = new Map<string, string>();
  for (const line of sections.get('sha256')!) {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (match) hashes.set(match[2]!, match[1]!);
  }
  const stamps = new Map<string, string>();
  for (const line of sections.get('stat')!) {
    const match = /^(\d+) (\d+) (.+)$/.exec(line);
    if (match) stamps.set(match[3]!, `${match[1]} ${match[2]}`);
  }
  const units = parseUnitBlocks(sections.get('units')!.join('\n'));
  return { hashes, stamps, units, outputs };
}

/** `systemctl show` blocks (separated by blank lines, one per unit) by unit name without `.service`. */
export function parseUnitBlocks(text: string): Map<string, UnitState> {
  const units = new Map<string, UnitState>();
  for (const blockText of text.split(/\n\n+/)) {
    const props = new Map(blockText.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
    const id = props.get('Id');
    if (!id) continue;
    // Job is the queued job's number (systemd prints it only when there is one; some versions print 0 for none).
    const job = props.get('Job') ?? '';
    // Empty (or `n/a`) when the unit has never been active.
    const since = /^@(\d+)$/.exec(props.get('ActiveEnterTimestamp') ?? '')?.[1];
    units.set(id.replace(/\.service$/, ''), {
      active: props.get('ActiveState') ?? '',
      sub: props.get('SubState') ?? '',
      enabled: props.get('UnitFileState') ?? '',
      job: job !== '' && job !== '0',
      ...(since !== undefined ? { since: Number(since) } : {}),
    });
  }
  return units;
}

/** NodeHandle.readState for a transport that can exec: the script above, in one exec. */
export async function readStateByExec(
  exec: (argv: string[], opts: ExecOptions) => Promise<ExecResult>,
  node: string,
  query: NodeReadQuery,
  signal?: AbortSignal,
): Promise<NodeState> {
  const { stdout } = await exec(nodeReadArgv(query.files, query.binaries, query.units, query.commands), { allowFailure: true, readOnly: true, signal });
  return parseNodeRead(stdout.toString('utf8'), node);
}
