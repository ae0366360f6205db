// Merging one cluster's entries into a user's kubeconfig (~/.kube/config) and taking them out again, as
// kind and k3d do: a cluster, a user and a context of one name, the rest of the file kept as it was.
//
// The file belongs to the user (other clusters, comments, preferences), so it is edited as a YAML
// document (the `yaml` package keeps comments, key order and scalar styles of what it does not touch)
// and never rewritten when it cannot be read as one: a syntax error is the user's to fix, not ours to
// "repair" by dropping what we did not understand. Loaded only by the targets that edit the file, never
// while the graph is built.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Document, YAMLMap, YAMLSeq } from 'yaml';
import { StepError } from '../../lib/errors.ts';

// The yaml package (dozens of modules) is required on the first kubeconfig read. Its importers already
// load this module with import(), but the bundle `node harder.mjs` runs (lib/cached-bundle.mjs) inlines
// that import and hoists a static `import 'yaml'` to its start: --help would load yaml too.
type YamlModule = typeof import('yaml');
let yamlModule: YamlModule | undefined;
const yaml = (): YamlModule => (yamlModule ??= createRequire(import.meta.url)('yaml') as YamlModule);

/** What one cluster contributes: its API server and CA, the admin's client cert and key (base64 as in a kubeconfig). */
export type KubeconfigEntry = {
  /** The name of the cluster, the user and the context: `harder-<clusterName>`. */
  name: string;
  server: string;
  caData: string;
  certData: string;
  keyData: string;
};

/** The file is not a kubeconfig we can edit safely: a syntax error, or a shape kubectl would refuse. */
export class KubeconfigFileError extends StepError {
  constructor(file: string, problem: string) {
    super(
      `${file}: ${problem}; it was left as it is`,
      `fix the file (kubectl config view --kubeconfig ${file} shows what kubectl makes of it) or move it away, then run again; or leave it alone for good: mergeKubeconfig: false in harder.config.ts (--no-kubeconfig for one run)`,
    );
  }
}

const LISTS = ['clusters', 'users', 'contexts'] as const;
type ListName = (typeof LISTS)[number];

/** The three items of an entry, keys in kubectl's (sorted) order so a merged file reads like one kubectl wrote. */
function itemsOf(entry: KubeconfigEntry): Record<ListName, Record<string, unknown>> {
  return {
    clusters: { cluster: { 'certificate-authority-data': entry.caData, server: entry.server }, name: entry.name },
    users: { name: entry.name, user: { 'client-certificate-data': entry.certData, 'client-key-data': entry.keyData } },
    contexts: { context: { cluster: entry.name, user: entry.name }, name: entry.name },
  };
}

/** Parses a kubeconfig's text; an empty (or whitespace/comment-only) text is an empty kubeconfig. Throws KubeconfigFileError. */
function parse(text: string, file: string): Document {
  const doc = yaml().parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const first = doc.errors[0]!;
    const line = first.linePos?.[0]?.line;
    throw new KubeconfigFileError(file, `is not valid YAML${line ? ` (line ${line}` + `: ${first.code.toLowerCase().replace(/_/g, ' ')})` : ` (${first.message.split('\n')[0]})`}`);
  }
  const root = doc.contents;
  if (root !== null && !(yaml().isScalar(root) && (root.value === null || root.value === '')) && !yaml().isMap(root)) {
    throw new KubeconfigFileError(file, `is not a kubeconfig: its top level is ${yaml().isSeq(root) ? 'a list' : 'a scalar'}, not a mapping of apiVersion, clusters, users, contexts`);
  }
  if (yaml().isMap(root)) {
    for (const list of LISTS) {
      const value = root.get(list, true);
      if (value === undefined || value === null || (yaml().isScalar(value) && value.value === null)) continue;
      if (!yaml().isSeq(value)) throw new KubeconfigFileError(file, `${list} is not a list`);
      value.items.forEach((item, i) => {
        if (!yaml().isMap(item)) throw new KubeconfigFileError(file, `${list}[${i}] is not a mapping`);
      });
    }
  }
  return doc;
}

const nameOf = (item: unknown): unknown => (yaml().isMap(item) ? item.get('name') : undefined);

/** The root mapping, made when the file is empty. */
function rootOf(doc: Document): YAMLMap {
  if (yaml().isMap(doc.contents)) return doc.contents;
  // A new file: the fields kubectl writes, in its order, so `kubectl config view` and a diff agree.
  const root = doc.createNode({ apiVersion: 'v1', clusters: [], contexts: [], 'current-context': '', kind: 'Config', preferences: {}, users: [] }) as YAMLMap;
  doc.contents = root;
  return root;
}

function listOf(doc: Document, root: YAMLMap, list: ListName): YAMLSeq {
  const value = root.get(list, true);
  if (yaml().isSeq(value)) return value;
  const seq = doc.createNode([]) as YAMLSeq;
  if (root.has(list)) root.set(list, seq);
  else root.add(doc.createPair(list, seq));
  return seq;
}

const render = (doc: Document): string => doc.toString({ indentSeq: false, lineWidth: 0, minContentWidth: 0 });

/** One replacement of `text.slice(start, end)`. */
type Edit = { start: number; end: number; text: string };

function applyEdits(text: string, edits: Edit[]): string {
  // From the end backwards, so earlier offsets stay valid; at one offset, in the order given.
  const ordered = edits.map((e, i) => ({ ...e, i })).sort((x, y) => y.start - x.start || y.i - x.i);
  let out = text;
  for (const e of ordered) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

const lineStart = (text: string, at: number): number => text.lastIndexOf('\n', at - 1) + 1;
type Range = [number, number, number];
const rangeOf = (node: unknown): Range | undefined => (node as { range?: Range | null } | null)?.range ?? undefined;

/**
 * The text span of each item of a block sequence, from the start of its `- ` line to the end of the
 * item (its trailing newline included), or undefined when the layout is not that simple one.
 */
function itemSpans(text: string, seq: YAMLSeq): { start: number; end: number }[] | undefined {
  const spans: { start: number; end: number }[] = [];
  for (const item of seq.items) {
    const range = rangeOf(item);
    if (!range) return undefined;
    const start = lineStart(text, range[0]);
    if (!/^[ \t]*-[ \t]+$/.test(text.slice(start, range[0]))) return undefined;
    spans.push({ start, end: range[2] });
  }
  return spans;
}

/** An item as block YAML whose `- ` starts at column `indent`. */
function blockItem(value: unknown, indent: string): string {
  return render(new (yaml().Document)([value])).split('\n').filter((l) => l !== '').map((l) => `${indent}${l}\n`).join('');
}

const column = (text: string, at: number): string => ' '.repeat(at - lineStart(text, at));

/**
 * The edits that change `list` to `items` (our item replaced in place, or appended; or, `items` empty,
 * ours dropped) on the text itself, so every other byte stays; undefined when the layout is one only a
 * re-render handles (a non-empty flow list, an item written `-` on its own line).
 */
function listEdits(text: string, root: YAMLMap, list: ListName, name: string, ours: unknown | undefined): Edit[] | undefined {
  const pair = root.items.find((p) => yaml().isScalar(p.key) && p.key.value === list);
  const keyRange = pair ? rangeOf(pair.key) : undefined;
  if (pair && !keyRange) return undefined;
  const value = pair?.value;
  const emptyValue = !pair || value === null || (yaml().isScalar(value) && value.value === null) || (yaml().isSeq(value) && value.flow && value.items.length === 0);
  if (emptyValue) {
    if (ours === undefined) return [];
    if (!pair) {
      // A new key at the end of the top-level mapping.
      const end = rangeOf(root)![2];
      const indent = root.items.length ? column(text, rangeOf(root.items[0]!.key)![0]) : '';
      return [{ start: end, end, text: `${indent}${list}:\n${blockItem(ours, indent)}` }];
    }
    const valueRange = rangeOf(value);
    if (!valueRange) return undefined;
    // Through the end of the line (an empty value's range stops before its newline).
    const end = text[valueRange[2] - 1] !== '\n' && text[valueRange[2]] === '\n' ? valueRange[2] + 1 : valueRange[2];
    return [{ start: keyRange![1], end, text: `:\n${blockItem(ours, column(text, keyRange![0]))}` }];
  }
  if (!yaml().isSeq(value) || value.flow) return undefined;
  const spans = itemSpans(text, value);
  if (!spans) return undefined;
  const mine = spans.filter((_, i) => nameOf(value.items[i]) === name);
  if (ours !== undefined) {
    // At the indentation of the list's own `- `.
    const itemText = blockItem(ours, /^[ \t]*/.exec(text.slice(spans[0]!.start))![0]);
    if (mine.length) return [{ ...mine[0]!, text: itemText }, ...mine.slice(1).map((span) => ({ ...span, text: '' }))];
    const end = spans[spans.length - 1]!.end;
    return [{ start: end, end, text: `${text[end - 1] === '\n' ? '' : '\n'}${itemText}` }];
  }
  if (!mine.length) return [];
  // Every item was ours: the list becomes empty, as `[]`.
  if (mine.length === spans.length) return [{ start: keyRange![1], end: spans[spans.length - 1]!.end, text: ': []\n' }];
  return mine.map((span) => ({ ...span, text: '' }));
}

/** The edit that sets (value) or drops (undefined) the top-level `current-context`; undefined: only a re-render can. */
function currentContextEdit(text: string, root: YAMLMap, value: string | undefined): Edit[] | undefined {
  const pair = root.items.find((p) => yaml().isScalar(p.key) && p.key.value === 'current-context');
  const keyRange = pair ? rangeOf(pair.key) : undefined;
  const valueRange = pair ? rangeOf(pair.value) : undefined;
  if (pair && (!keyRange || !valueRange)) return undefined;
  if (value === undefined) {
    if (!pair) return [];
    const end = text[valueRange![2] - 1] !== '\n' && text[valueRange![2]] === '\n' ? valueRange![2] + 1 : valueRange![2];
    return [{ start: lineStart(text, keyRange![0]), end, text: '' }];
  }
  if (pair) return [{ start: keyRange![1], end: valueRange![1], text: `: ${value}` }];
  const end = rangeOf(root)![2];
  const indent = root.items.length ? column(text, rangeOf(root.items[0]!.key)![0]) : '';
  return [{ start: end, end, text: `${indent}current-context: ${value}\n` }];
}

/**
 * `edited` (the document changed as wanted) as text: the edits on the original text when they give the
 * very same data (re-parsed and compared), so the user's layout, comments and quoting stay byte for byte;
 * otherwise the re-rendered document (the `yaml` package keeps comments and order, not every space).
 */
function spliceOrRender(text: string, edits: Edit[] | undefined, edited: Document): string {
  if (edits) {
    const spliced = applyEdits(text, edits);
    const reread = yaml().parseDocument(spliced, { prettyErrors: false, uniqueKeys: true });
    if (!reread.errors.length && JSON.stringify(canonical(reread.toJSON())) === JSON.stringify(canonical(edited.toJSON()))) return spliced;
  }
  return render(edited);
}

/**
 * The text of `file` with `entry` merged in: its cluster, user and context replaced where one of that
 * name exists (in place) or appended, and `current-context` set to it when `makeCurrent`. Every other
 * byte is kept where the layout allows (see spliceOrRender). `text` undefined: the file does not exist
 * yet. Throws KubeconfigFileError for a file that does not parse or is not a kubeconfig.
 */
export function mergeKubeconfig(text: string | undefined, file: string, entry: KubeconfigEntry, makeCurrent: boolean): string {
  // A last line without its newline gets one, so what is appended starts on a line of its own.
  const original = text && !text.endsWith('\n') ? `${text}\n` : (text ?? '');
  const doc = parse(original, file);
  const fresh = !yaml().isMap(doc.contents);
  const root = rootOf(doc);
  const items = itemsOf(entry);
  // Text edits, computed from the parsed ranges before the document changes; undefined once one is impossible.
  let edits: Edit[] | undefined = fresh || root.flow ? undefined : [];
  const add = (more: Edit[] | undefined): void => void (edits = edits && more ? [...edits, ...more] : undefined);
  for (const list of LISTS) {
    if (edits) add(listEdits(original, root, list, entry.name, items[list]));
    const seq = listOf(doc, root, list);
    const node = doc.createNode(items[list]);
    const at = seq.items.findIndex((item) => nameOf(item) === entry.name);
    if (at === -1) seq.items.push(node);
    else seq.items = [...seq.items.slice(0, at), node, ...seq.items.slice(at + 1).filter((item) => nameOf(item) !== entry.name)];
  }
  if (makeCurrent) {
    if (edits) add(currentContextEdit(original, root, entry.name));
    root.set('current-context', entry.name);
  }
  return spliceOrRender(original, edits, doc);
}

/**
 * The text of `file` without the cluster, user and context named `name`, and without `current-context`
 * when it was that context; `removed` lists what went (empty: nothing of ours was there, and the text
 * is returned unchanged). Every other byte is kept where the layout allows. Throws KubeconfigFileError
 * for a file that does not parse.
 */
export function removeFromKubeconfig(text: string, file: string, name: string): { text: string; removed: string[] } {
  const doc = parse(text, file);
  const root = doc.contents;
  if (!yaml().isMap(root)) return { text, removed: [] };
  const removed: string[] = [];
  let edits: Edit[] | undefined = root.flow ? undefined : [];
  const add = (more: Edit[] | undefined): void => void (edits = edits && more ? [...edits, ...more] : undefined);
  for (const list of LISTS) {
    const seq = root.get(list, true);
    if (!yaml().isSeq(seq)) continue;
    const kept = seq.items.filter((item) => nameOf(item) !== name);
    if (kept.length === seq.items.length) continue;
    removed.push(`${list.slice(0, -1)} ${name}`);
    if (edits) add(listEdits(text, root, list, name, undefined));
    seq.items = kept;
  }
  if (root.get('current-context') === name) {
    if (edits) add(currentContextEdit(text, root, undefined));
    root.delete('current-context');
    removed.push('current-context');
  }
  return removed.length ? { text: spliceOrRender(text, edits, doc), removed } : { text, removed };
}

/** A digest of the cluster, user and context an entry makes, to tell later whether a file still holds them as merged. */
export function entryDigest(entry: KubeconfigEntry): string {
  const items = itemsOf(entry);
  return digestOf(LISTS.map((list) => items[list]));
}

const digestOf = (items: unknown[]): string => createHash('sha256').update(JSON.stringify(canonical(items))).digest('hex');

/**
 * Why `text` does not hold the entries named `name` as they were merged (`digest`, from entryDigest): one
 * is missing, or its server or credentials differ. Undefined when they are there unchanged, whatever else
 * changed around them (another context made current included). Throws KubeconfigFileError.
 */
export function entryDrift(text: string, file: string, name: string, digest: string): string | undefined {
  const root = parse(text, file).contents;
  const found: unknown[] = [];
  for (const list of LISTS) {
    const seq = yaml().isMap(root) ? root.get(list, true) : undefined;
    const item = yaml().isSeq(seq) ? seq.items.find((i) => nameOf(i) === name) : undefined;
    if (!yaml().isMap(item)) return `${file} has no ${list.slice(0, -1)} ${name}`;
    found.push(item.toJSON());
  }
  return digestOf(found) === digest ? undefined : `${file}: the cluster, user or context ${name} differs from what was merged (server or credentials changed)`;
}

/** The value with its mapping keys sorted, so a comparison ignores their order. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  return value;
}

/** The cluster and user of a kubeconfig we wrote (output/kubeconfig/admin.kubeconfig: one of each), as an entry of another name. */
export function entryFromKubeconfig(text: string, file: string, name: string): KubeconfigEntry {
  const data = parse(text, file).toJSON() as { clusters?: { cluster?: Record<string, string> }[]; users?: { user?: Record<string, string> }[] } | null;
  const cluster = data?.clusters?.[0]?.cluster;
  const user = data?.users?.[0]?.user;
  const server = cluster?.server;
  const caData = cluster?.['certificate-authority-data'];
  const certData = user?.['client-certificate-data'];
  const keyData = user?.['client-key-data'];
  if (!server || !caData || !certData || !keyData) throw new KubeconfigFileError(file, 'lacks a cluster with server and certificate-authority-data or a user with client certificate and key data');
  return { name, server, caData, certData, keyData };
}

