// Temp files left by killed runs. Atomic writes (atomic.ts, and lib/pki/files.ts for keys) write
// `<file>.<pid>.<n>.tmp` beside the file they replace, then rename it over: a kill -9 in between
// leaves the temp behind, and for a key that is a copy of a private key. A run that holds the lock
// removes the temps of the files the engine knows (owned outputs, its own state files) whose pid is
// no live process: only a dead writer's temp is garbage. Nothing else in those directories is touched.

import { readdirSync, unlinkSync } from 'node:fs';

const TEMP = /^(.+)\.(\d+)\.\d+\.tmp$/;

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The temps of `files` (absolute paths) left by processes that are gone, removed unless `dryRun`.
 * Returns their absolute paths. One directory listing per distinct directory; a no-op run finds
 * no temp, so it only lists (the set of known files is built when a candidate turns up).
 */
export function removeStaleTemps(files: readonly string[], dryRun = false): string[] {
  const dirs = new Set<string>();
  let last = '';
  for (const file of files) {
    const slash = file.lastIndexOf('/');
    // Outputs of one directory usually come in a row: no slice for those.
    if (slash === last.length && file.startsWith(last)) continue;
    last = file.slice(0, slash);
    dirs.add(last);
  }
  let known: Set<string> | undefined;
  const found: string[] = [];
  const liveness = new Map<number, boolean>();
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue; // not made yet
    }
    for (const entry of entries) {
      if (!entry.endsWith('.tmp')) continue;
      const match = TEMP.exec(entry);
      if (!match) continue;
      known ??= new Set(files);
      if (!known.has(`${dir}/${match[1]}`)) continue;
      const pid = Number(match[2]);
      // This process's own temps may belong to a write in progress (another engine call in-process).
      if (pid === process.pid) continue;
      let live = liveness.get(pid);
      if (live === undefined) liveness.set(pid, (live = alive(pid)));
      if (live) continue;
      const path = `${dir}/${entry}`;
      if (!dryRun) {
        try {
          unlinkSync(path);
        } catch {
          continue; // gone already, or not ours to remove: never a reason to fail a run
        }
      }
      found.push(path);
    }
  }
  return found;
}
