// Batched reads of a node's state for probes: ONE exec per node and run reads the sha256 of every file
// we install there, the size+mtime of every binary and the state of every unit we run there; all probes
// of that node within a moment share it. A no-op run probes dozens of files and units per node.

import { nodeHandle, type NodeHandle } from '../../lib/docker/node-access.ts';

const filesByNode = new Map<string, Set<string>>();
/** Large files (binaries) are checked by size and mtime: hashing 250 MB on every no-op run costs a second. */
const binariesByNode = new Map<string, Set<string>>();
const unitsByNode = new Map<string, Set<string>>();

/** Declared while the graph is built, so the first probe of a node can ask about all of them at once. */
export function registerNodeFile(node: string, path: string): void {
  if (!filesByNode.has(node)) filesByNode.set(node, new Set());
  filesByNode.get(node)!.add(path);
}

export function registerNodeBinary(node: string, path: string): void {
  if (!binariesByNode.has(node)) binariesByNode.set(node, new Set());
  binariesByNode.get(node)!.add(path);
}

export function registerNodeUnit(node: string, unit: string): void {
  if (!unitsByNode.has(node)) unitsByNode.set(node, new Set());
  unitsByNode.get(node)!.add(unit);
}

/** A unit as `systemctl show` reports it: ActiveState, SubState, UnitFileState and whether a job is queued. */
export type UnitState = { active: string; sub: string; enabled: string; job: boolean };

/** What one read of a node returns. Missing files and binaries are absent from their maps. */
export type NodeState = {
  /** sha256 of each registered file. */
  hashes: Map<string, string>;
  /** `size mtime` of each registered binary, as the binary install records it. */
  stamps: Map<string, string>;
  /** ActiveState, SubState, UnitFileState and queued job of each registered unit (name without `.service`). */
  units: Map<string, UnitState>;
};

const stateMemo = new Map<string, { at: number; value: Promise<NodeState> }>();
/** Probes of one run happen within a second or two; anything older is read again. */
const MEMO_MS = 3000;

const handles = new Map<string, NodeHandle>();
export function handleFor(container: string): NodeHandle {
  if (!handles.has(container)) handles.set(container, nodeHandle(container));
  return handles.get(container)!;
}

/** Call after changing anything on a node, so later probes read it afresh. */
export function forgetNodeState(container: string): void {
  stateMemo.delete(container);
}

/** What the probes read of a unit (see UnitState). */
const UNIT_PROPERTIES = 'Id,ActiveState,SubState,UnitFileState,Job';

/**
 * Each docker exec costs the engine ~15 ms of CPU (runc, shim), and these reads are a no-op run's
 * critical path, so the three commands run in one exec. The script text is fixed; the paths and unit
 * names are arguments (`<file count> <binary count> files… binaries… units…`), never spliced into it.
 * Each command's output follows a marker line; a failing command (a missing file) does not stop the others.
 */
const READ_SCRIPT = [
  'nf=$1 nb=$2; shift 2',
  'files=("${@:1:nf}") bins=("${@:nf+1:nb}") units=("${@:nf+nb+1}")',
  'echo @@harder:sha256',
  '(( ${#files[@]} )) && sha256sum -- "${files[@]}"',
  'echo @@harder:stat',
  '(( ${#bins[@]} )) && stat --format="%s %Y %n" -- "${bins[@]}"',
  'echo @@harder:units',
  `(( \${#units[@]} )) && systemctl show --property=${UNIT_PROPERTIES} -- "\${units[@]}"`,
  'exit 0',
].join('\n');
const SECTIONS = ['sha256', 'stat', 'units'] as const;

/** The argv of the one read of `node` (exported for tests). */
export function nodeReadArgv(files: string[], binaries: string[], units: string[]): string[] {
  return ['bash', '-c', READ_SCRIPT, 'node-state', String(files.length), String(binaries.length), ...files, ...binaries, ...units.map((u) => `${u}.service`)];
}

/** Parses the read's output; throws when a section marker is missing (the script did not run through). */
export function parseNodeRead(stdout: string, container: string): NodeState {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of stdout.split('\n')) {
    const marker = /^@@harder:(\w+)$/.exec(line);
    if (marker) sections.set(marker[1]!, (current = []));
    else current?.push(line);
  }
  const missing = SECTIONS.filter((s) => !sections.has(s));
  if (missing.length > 0) throw new Error(`${container}: reading file hashes, binary stamps and unit states did not complete (no ${missing.join(', ')} section); output: ${stdout.slice(0, 300) || '(none)'}`);

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
  return { hashes, stamps, units };
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
    units.set(id.replace(/\.service$/, ''), { active: props.get('ActiveState') ?? '', sub: props.get('SubState') ?? '', enabled: props.get('UnitFileState') ?? '', job: job !== '' && job !== '0' });
  }
  return units;
}

/** Everything registered for `node`, read in one exec and shared by the probes of the next few seconds. */
export function nodeState(container: string, node: string): Promise<NodeState> {
  const hit = stateMemo.get(container);
  if (hit && performance.now() - hit.at < MEMO_MS) return hit.value;
  const value = (async () => {
    const argv = nodeReadArgv([...(filesByNode.get(node) ?? [])], [...(binariesByNode.get(node) ?? [])], [...(unitsByNode.get(node) ?? [])]);
    const { stdout } = await handleFor(container).exec(argv, { allowFailure: true });
    return parseNodeRead(stdout.toString('utf8'), container);
  })();
  stateMemo.set(container, { at: performance.now(), value });
  value.catch(() => {
    if (stateMemo.get(container)?.value === value) stateMemo.delete(container);
  });
  return value;
}

/** sha256 of each registered file on the node; files that do not exist are absent from the map. */
export async function nodeFileHashes(container: string, node: string): Promise<Map<string, string>> {
  return (await nodeState(container, node)).hashes;
}

/** `size mtime` of each registered binary on the node; missing ones are absent. */
export async function nodeBinaryStamps(container: string, node: string): Promise<Map<string, string>> {
  return (await nodeState(container, node)).stamps;
}

/** ActiveState, SubState, UnitFileState and queued job of each registered unit on the node (batched, shared). */
export async function nodeUnitStates(container: string, node: string): Promise<Map<string, UnitState>> {
  return (await nodeState(container, node)).units;
}

/** One unit read afresh (not the shared batched read): for a probe that waits for a unit to settle. */
export async function readUnitState(container: string, unit: string): Promise<UnitState | undefined> {
  const { stdout } = await handleFor(container).exec(['systemctl', 'show', `--property=${UNIT_PROPERTIES}`, '--', `${unit}.service`], { allowFailure: true });
  return parseUnitBlocks(stdout.toString('utf8')).get(unit);
}

/** `size mtime` of a file on a node, as the binary install records it. */
export async function fileStamp(container: string, path: string): Promise<string | undefined> {
  const { stdout } = await handleFor(container).exec(['stat', '--format=%s %Y', '--', path], { allowFailure: true });
  return stdout.toString('utf8').trim() || undefined;
}
