// The run lock: one run at a time per state directory. The lock file names the holder's pid; a lock
// whose process is gone (killed with SIGKILL) is stale and is taken over.

import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from './errors.ts';

export type Lock = { release(): void };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `<outDir>/.harder/lock`, or throws lock-held naming the other process. */
export function acquireLock(outDir: string, what = 'build'): Lock {
  const dir = join(outDir, '.harder');
  const file = join(dir, 'lock');
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder: { pid?: number; argv?: string[]; started?: string } = {};
      try {
        holder = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        // Being written right now by its owner, or torn by a kill between create and write.
        if (attempt < 4) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
          continue;
        }
      }
      if (typeof holder.pid === 'number' && holder.pid !== process.pid && alive(holder.pid)) {
        throw new EngineError('lock-held', `another run (pid ${holder.pid}) is using ${outDir}`, {
          hint: `wait for it to finish, or stop it (kill ${holder.pid}); it started ${holder.started ?? 'at an unknown time'}${holder.argv ? ` as: ${holder.argv.join(' ')}` : ''}`,
        });
      }
      if (holder.pid === process.pid) {
        throw new EngineError('lock-held', `this process already runs a build on ${outDir}`, { hint: 'await the first runBuild before starting another on the same output directory' });
      }
      // Stale: its process is gone. Remove and retry (another process may race us; O_EXCL decides).
      try {
        unlinkSync(file);
      } catch {
        /* someone else removed it */
      }
      continue;
    }
    writeSync(fd, JSON.stringify({ pid: process.pid, started: new Date().toISOString(), what, argv: process.argv.slice(1) }));
    closeSync(fd);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      },
    };
  }
  throw new EngineError('lock-held', `could not take the lock ${file}`, { hint: 'remove it if no other run is active' });
}
