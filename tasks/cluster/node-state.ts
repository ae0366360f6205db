// Batched reads of a node's state for probes: ONE exec per node and run reads the sha256 of every file
// we install there, the size+mtime of every binary and the state of every unit we run there; all probes
// of that node within a moment share it. A no-op run probes dozens of files and units per node.

import { nodeHandle, type NodeHandle } from '../../lib/docker/node-access.ts';
import type { NodeState, UnitState } from '../../lib/node/handle.ts';
import { UNIT_PROPERTIES, nodeReadArgv, parseNodeRead, parseUnitBlocks } from '../../lib/node/read-state.ts';

export { nodeReadArgv, parseNodeRead, parseUnitBlocks, type NodeState, type UnitState };

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
