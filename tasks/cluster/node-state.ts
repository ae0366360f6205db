// Batched reads of a node's state for probes: one `sha256sum` over every file we install there and one
// `systemctl show` over every unit we run there, shared by all probes of that node within a moment.
// A no-op run probes dozens of files and units; one exec each would cost seconds.

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

type Memo<T> = { at: number; value: Promise<T> };
const fileMemo = new Map<string, Memo<Map<string, string>>>();
const statMemo = new Map<string, Memo<Map<string, string>>>();
const unitMemo = new Map<string, Memo<Map<string, UnitState>>>();
/** Probes of one run happen within a second or two; anything older is read again. */
const MEMO_MS = 3000;

const handles = new Map<string, NodeHandle>();
export function handleFor(container: string): NodeHandle {
  if (!handles.has(container)) handles.set(container, nodeHandle(container));
  return handles.get(container)!;
}

/** Call after changing anything on a node, so later probes read it afresh. */
export function forgetNodeState(container: string): void {
  fileMemo.delete(container);
  statMemo.delete(container);
  unitMemo.delete(container);
}

function memoised<T>(memo: Map<string, Memo<T>>, key: string, read: () => Promise<T>): Promise<T> {
  const hit = memo.get(key);
  if (hit && performance.now() - hit.at < MEMO_MS) return hit.value;
  const value = read();
  memo.set(key, { at: performance.now(), value });
  value.catch(() => memo.delete(key));
  return value;
}

/**
 * The first probe of a node starts all three reads at once: its unit probes come later in the graph
 * (after the file probes), and would otherwise wait a round trip each.
 */
function warm(container: string, node: string): void {
  void nodeFileHashes(container, node).catch(() => undefined);
  void nodeBinaryStamps(container, node).catch(() => undefined);
  void nodeUnitStates(container, node).catch(() => undefined);
}

/** sha256 of each registered file on the node; files that do not exist are absent from the map. */
export function nodeFileHashes(container: string, node: string, extra: string[] = []): Promise<Map<string, string>> {
  if (!fileMemo.has(container)) queueMicrotask(() => warm(container, node));
  return memoised(fileMemo, container, async () => {
    const paths = [...new Set([...(filesByNode.get(node) ?? []), ...extra])];
    const { stdout } = await handleFor(container).exec(['sha256sum', '--', ...paths], { allowFailure: true });
    const hashes = new Map<string, string>();
    for (const line of stdout.toString('utf8').split('\n')) {
      const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (match) hashes.set(match[2]!, match[1]!);
    }
    return hashes;
  });
}

/** `size mtime` of a file on a node, as the binary install records it. */
export async function fileStamp(container: string, path: string): Promise<string | undefined> {
  const { stdout } = await handleFor(container).exec(['stat', '--format=%s %Y', '--', path], { allowFailure: true });
  return stdout.toString('utf8').trim() || undefined;
}

/** `size mtime` of each registered binary on the node; missing ones are absent. */
export function nodeBinaryStamps(container: string, node: string): Promise<Map<string, string>> {
  if (!statMemo.has(container)) queueMicrotask(() => warm(container, node));
  return memoised(statMemo, container, async () => {
    const paths = [...(binariesByNode.get(node) ?? [])];
    const stamps = new Map<string, string>();
    if (paths.length === 0) return stamps;
    const { stdout } = await handleFor(container).exec(['stat', '--format=%s %Y %n', '--', ...paths], { allowFailure: true });
    for (const line of stdout.toString('utf8').split('\n')) {
      const match = /^(\d+) (\d+) (.+)$/.exec(line);
      if (match) stamps.set(match[3]!, `${match[1]} ${match[2]}`);
    }
    return stamps;
  });
}

export type UnitState = { active: string; enabled: string };

/** ActiveState and UnitFileState of each registered unit on the node. */
export function nodeUnitStates(container: string, node: string): Promise<Map<string, UnitState>> {
  if (!unitMemo.has(container)) queueMicrotask(() => warm(container, node));
  return memoised(unitMemo, container, async () => {
    const units = [...(unitsByNode.get(node) ?? [])];
    const states = new Map<string, UnitState>();
    if (units.length === 0) return states;
    const { stdout } = await handleFor(container).exec(['systemctl', 'show', '--property=Id,ActiveState,UnitFileState', '--', ...units.map((u) => `${u}.service`)], {
      allowFailure: true,
    });
    // Blocks separated by blank lines, one per unit, in the order asked.
    for (const blockText of stdout.toString('utf8').split(/\n\n+/)) {
      const props = new Map(blockText.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
      const id = props.get('Id');
      if (id) states.set(id.replace(/\.service$/, ''), { active: props.get('ActiveState') ?? '', enabled: props.get('UnitFileState') ?? '' });
    }
    return states;
  });
}
