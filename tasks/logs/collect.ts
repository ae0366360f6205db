// Runs the items of a log bundle: at most `jobs` at once, each within its own time limit, each written to
// its file as soon as it is in. An item that fails, times out or is cancelled is a line of what could not
// be collected and why, never a failed command: a half-broken cluster is when the bundle is needed most.

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';

export type Content = Buffer | string;

/** One thing to collect: a file of the bundle (or, through `discover`, the way to find more). */
export type Item = {
  /** Its file in the bundle, relative, `/`-separated: `nodes/worker-1/journal/kubelet.log`. */
  path: string;
  /** What it is, in words, for the summary: `worker-1: journalctl -u kubelet`. */
  what: string;
  /** Produces the content; throws when it cannot (the message is the reason shown). */
  collect(signal: AbortSignal): Promise<Content>;
  /**
   * Items that need this one: collected after it succeeded, listed as not collected (with its reason) when
   * it failed. A node's commands need the node to answer, the cluster's the apiserver.
   */
  after?: Item[];
  /** Items this one's content names: each pod's log from the pod list. Nothing when it failed. */
  discover?(content: Content): Item[];
};

export type CollectedItem = { path: string; what: string; bytes: number; ms: number };
/** `because`: the item it needed, which failed (its own reason says why): the summary groups by it. */
export type MissingItem = { path: string; what: string; reason: string; because?: string };
export type Collection = { collected: CollectedItem[]; missing: MissingItem[]; ms: number };

export type CollectOptions = {
  /** The bundle's folder; every item's file goes under it. */
  dir: string;
  /** How many items run at once. */
  jobs: number;
  /** Each item's time limit. */
  timeoutMs: number;
  /** Cancels everything still running (Ctrl-C): those items are listed as cancelled. */
  signal?: AbortSignal;
};

/** An item's error as one line: the first line of its message, and its last when the message has more. */
export function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.length > 1 ? `${lines[0]} … ${lines[lines.length - 1]}` : (lines[0] ?? 'failed without a message');
  return line.length > 400 ? `${line.slice(0, 399)}…` : line;
}

/** Refuses a path that would leave the bundle: item paths come partly from what nodes and the API list. */
function inside(dir: string, path: string): string {
  const clean = normalize(path);
  if (clean.startsWith('..') || clean.startsWith('/') || clean === '.') throw new Error(`bundle path ${JSON.stringify(path)} is outside the bundle`);
  return join(dir, clean);
}

/** Runs `work` with a signal that aborts after `ms` (or with `outer`); settles by then even if `work` ignores the signal. */
async function bounded<T>(ms: number, outer: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<never>((_, reject) => {
    const stop = (reason: string) => {
      controller.abort(new Error(reason));
      reject(new Error(reason));
    };
    timer = setTimeout(() => stop(`timed out after ${ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`}`), ms);
    onAbort = () => stop('cancelled');
    if (outer?.aborted) onAbort();
    outer?.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => undefined);
  try {
    return await Promise.race([work(controller.signal), stopped]);
  } finally {
    clearTimeout(timer);
    if (onAbort) outer?.removeEventListener('abort', onAbort);
  }
}

/** Collects every item (and what they lead to) into `dir`. Never throws for an item; only for a folder it cannot write. */
export async function collect(items: Item[], opts: CollectOptions): Promise<Collection> {
  const started = performance.now();
  const collected: CollectedItem[] = [];
  const missing: MissingItem[] = [];
  const miss = (item: Item, reason: string, because?: string): void => {
    missing.push({ path: item.path, what: item.what, reason, ...(because ? { because } : {}) });
    // What needed it is not tried: a stopped node costs one time limit, not one per command.
    for (const dependent of item.after ?? []) miss(dependent, because ? reason : `needs ${item.what}, which failed: ${reason}`, because ?? item.what);
  };
  let writeError: unknown;

  const run = async (item: Item): Promise<Item[]> => {
    const at = performance.now();
    let content: Content;
    try {
      const file = inside(opts.dir, item.path);
      content = await bounded(opts.timeoutMs, opts.signal, (signal) => item.collect(signal));
      try {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, content);
      } catch (error) {
        writeError ??= error;
        throw error;
      }
    } catch (error) {
      miss(item, reasonOf(error));
      return [];
    }
    collected.push({ path: item.path, what: item.what, bytes: Buffer.byteLength(content), ms: performance.now() - at });
    let found: Item[] = [];
    try {
      found = item.discover?.(content) ?? [];
    } catch (error) {
      missing.push({ path: `${item.path} (what it lists)`, what: `what ${item.what} lists`, reason: `could not read it: ${reasonOf(error)}` });
    }
    return [...(item.after ?? []), ...found];
  };

  await new Promise<void>((resolve) => {
    const queue = [...items];
    let running = 0;
    const pump = (): void => {
      while (running < Math.max(1, opts.jobs) && queue.length) {
        const item = queue.shift()!;
        running++;
        void run(item).then((more) => {
          running--;
          queue.push(...more);
          pump();
        });
      }
      if (running === 0 && queue.length === 0) resolve();
    };
    pump();
  });
  if (writeError) throw writeError;
  const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
  return { collected: collected.sort(byPath), missing: missing.sort(byPath), ms: performance.now() - started };
}
