// The run lock: one run at a time per state directory (`<outDir>/.harder/lock`).
//
// The lock file is JSON naming its holder: pid, `start` (field 22 of /proc/<pid>/stat: when that process
// started, in clock ticks since boot), `boot` (/proc/sys/kernel/random/boot_id) and a random `nonce`
// that makes every lock file unique, plus what it runs for the refusal message. A holder is alive when
// the boot is the same, the pid exists (and is no zombie), and the process with that pid started at
// `start`: a pid reused after the holder died (pid 1 in a restarted container) does not match. Where
// /proc cannot be read, the pid alone decides, as before. An older engine's lock (pid and ISO `started`
// only) is stale when the process with that pid started after the lock was written.
//
// Taking the lock (every step is one atomic system call; nothing is ever written in place):
//   1. Write the whole content to a temp file `lock.tmp-<nonce>`, then link() it to `lock`. link fails
//      if `lock` exists, so exactly one of the runs racing for a free lock wins, and a lock file is
//      never visible half-written. (Where hard links are not supported: open O_EXCL + write, and a
//      torn file is handled as below.)
//   2. `lock` exists: read it. A live holder → refused (lock-held). Our own nonce → this process
//      already holds it. Unparseable (torn by an older engine killed between create and write, or a
//      crash): waited for while younger than TORN_GRACE_MS (its writer may be writing it), then stale.
//   3. Stale: take it over. Deleting it is the dangerous step — two runs that both read the same stale
//      lock S must not both delete, or the second deletes the lock the first has just made. So the
//      deletion is guarded by a marker that names S: `lock.break-<key of S>.<g>` (key: S's nonce, or
//      inode, size and mtime for a lock without one), created by link() like the lock. Holding the
//      marker, a run re-reads `lock`, and deletes it only if it is still S and still stale; then it
//      removes the marker and goes back to step 1, where link() again picks one winner.
//      Why it is safe: while `lock` is S, only a holder of a marker for S changes it (a fresh run's
//      link fails, S's own holder is dead), and at most one live process holds a marker for S. That is
//      because a marker held by a dead run (killed mid-takeover) is never broken: the next run uses
//      generation g+1, and only when every lower generation's holder is verified dead (dead stays dead:
//      the identity check includes the start time). Markers for S are not removed while `lock` is S.
//      Once `lock` is no longer S it never is again (nonces are unique), so a late run that takes a
//      marker for S finds `lock` changed and backs off. A live marker holder is waited for (it needs
//      microseconds); a run gives up after GIVE_UP_MS.
//   4. After a takeover, markers and temp files left by killed runs are removed (a marker for a key
//      other than ours is for a lock that is gone; a temp file is removed when its process is dead).
// Releasing removes `lock` only if it still holds our nonce.
//
// Limit: liveness is judged in this process's pid namespace on this machine; two containers with
// separate pid namespaces sharing one output directory do not see each other's runs.

import { closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EngineError } from './errors.ts';

export type Lock = { release(): void };

/** An unparseable lock younger than this may still be being written (by an older engine): wait. */
const TORN_GRACE_MS = 1_000;
/** How far ahead of Date.now() a file's mtime may be and still count as written now. */
const CLOCK_SLACK_MS = 50;
/** How long a run waits for a takeover by another live run, or for a young torn lock, before giving up. */
const GIVE_UP_MS = 5_000;

type Holder = { pid: number; start?: string; boot?: string; nonce?: string; started?: string; what?: string; argv?: string[] };
type State = 'alive' | 'stale' | 'mine' | 'young';
type Seen = { holder: Holder | undefined; key: string; state: State };

/** Locks this process holds (file → nonce), shared by every copy of this module in the process. */
const held: Map<string, string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('harder.engine.locks')] ??= new Map()) as Map<string, string>;

const sleep = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const codeOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code;

/** The fields of /proc/<pid>/stat after the command name (which may contain spaces and parentheses). */
function procStat(pid: number | 'self'): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

let bootCache: string | null | undefined;
function bootId(): string | undefined {
  if (bootCache === undefined) {
    try {
      bootCache = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootCache = null;
    }
  }
  return bootCache ?? undefined;
}

/** When the process with these stat fields started, in ms since the epoch (USER_HZ is 100 on Linux). */
function startedAtMs(stat: string[]): number | undefined {
  try {
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Date.now() - uptime * 1000 + Number(stat[19]) * 10;
  } catch {
    return undefined;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return codeOf(error) === 'EPERM';
  }
}

let ownStart: string | null | undefined;
/** When this process started (field 22 of /proc/self/stat), undefined where /proc is not there. */
function myStart(): string | undefined {
  if (ownStart === undefined) ownStart = procStat('self')?.[19] ?? null;
  return ownStart ?? undefined;
}

/** Whether the process a lock (or marker) names still runs. */
function holderState(holder: Holder, path: string): State {
  if (holder.pid === process.pid) {
    // Our pid: this process (this module, or another thread: same pid and start time), or an earlier
    // process that had our pid (pid 1 in a restarted container). An older engine's lock is never ours.
    if (holder.nonce !== undefined && held.get(path) === holder.nonce) return 'mine';
    const start = myStart();
    return holder.start !== undefined && (start === undefined || holder.start === start) ? 'mine' : 'stale';
  }
  const boot = bootId();
  if (holder.boot && boot && holder.boot !== boot) return 'stale';
  if (!pidExists(holder.pid)) return 'stale';
  const stat = procStat(holder.pid);
  // It exists but /proc does not say more (not Linux, hidepid): assume it is the holder.
  if (!stat) return 'alive';
  if (stat[0] === 'Z' || stat[0] === 'X') return 'stale';
  if (holder.start !== undefined) return holder.start === stat[19] ? 'alive' : 'stale';
  // An older engine's lock: the process with that pid must have started before the lock was written.
  const written = holder.started ? Date.parse(holder.started) : NaN;
  const began = startedAtMs(stat);
  return !Number.isNaN(written) && began !== undefined && began > written + 2_000 ? 'stale' : 'alive';
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && Number.isInteger((value as Holder).pid) && (value as Holder).pid > 0) return value as Holder;
  } catch {
    /* torn or not a lock */
  }
  return undefined;
}

/** Reads a lock or marker: who holds it, its key (what a marker names it by) and whether it is live. Undefined if gone. */
function inspect(path: string): Seen | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    const holder = parseHolder(readFileSync(fd, 'utf8'));
    const key = holder?.nonce && /^[\w.-]{1,80}$/.test(holder.nonce) ? holder.nonce : `i${stat.ino}-${stat.size}-${Math.floor(stat.mtimeMs)}`;
    if (!holder) {
      // A file from the future (another machine's clock) cannot be waited for: stale at once. Up to a
      // clock tick ahead is now, not the future: mtime has sub-millisecond precision and Date.now() is
      // truncated, so a file created this instant reads as up to 1 ms ahead.
      const age = Date.now() - stat.mtimeMs;
      return { holder, key, state: age > -CLOCK_SLACK_MS && age < TORN_GRACE_MS ? 'young' : 'stale' };
    }
    return { holder, key, state: holderState(holder, path) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Maps a failure to create or write the state directory to an expected error naming the directory and
 * what to do; undefined for anything else (which stays an internal error).
 */
export function outputDirError(error: unknown, outDir: string): EngineError | undefined {
  const code = codeOf(error);
  const path = (error as NodeJS.ErrnoException | undefined)?.path ?? join(outDir, '.harder');
  const exists = (p: string): boolean => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };
  // The nearest path that exists: the directory that refused to have something created in it.
  let at = resolve(path);
  while (!exists(at) && dirname(at) !== at) at = dirname(at);
  switch (code) {
    case 'EACCES':
    case 'EPERM': {
      let owner: number | undefined;
      try {
        owner = statSync(at).uid;
      } catch {
        /* a link to nowhere: no owner to name */
      }
      const me = process.getuid?.();
      const hint =
        me !== undefined && owner !== undefined && owner !== me
          ? `it belongs to uid ${owner} and this run is uid ${me}${owner === 0 ? ' (was an earlier run started with sudo?)' : ''}; make it yours: sudo chown -R ${me} ${outDir}`
          : `make it writable: chmod u+w ${at}`;
      return new EngineError('output-unwritable', `cannot write to ${at}: permission denied`, { hint, cause: error });
    }
    case 'EROFS':
      return new EngineError('output-unwritable', `cannot write to ${at}: read-only file system`, {
        hint: `the build keeps its state and outputs under ${outDir}: mount it read-write, or build from a writable copy of the project`,
        cause: error,
      });
    case 'ENOSPC':
    case 'EDQUOT':
      return new EngineError('output-unwritable', `cannot write to ${at}: ${code === 'ENOSPC' ? 'no space left on the device' : 'disk quota exceeded'}`, {
        hint: 'free some space (the state needs a few kilobytes, the outputs more), then run again',
        cause: error,
      });
    case 'ENOTDIR':
    case 'EEXIST':
    case 'ENOENT': {
      // Something on the way to <outDir>/.harder is not a directory: a file, or a link to nowhere.
      for (let p = resolve(outDir); ; p = dirname(p)) {
        let link: string | undefined;
        try {
          if (lstatSync(p).isSymbolicLink()) link = readlinkSync(p);
          if (!statSync(p).isDirectory()) return new EngineError('output-unwritable', `${p} is not a directory`, { hint: 'the build keeps its state and outputs in that directory: move or remove it', cause: error });
        } catch (inner) {
          if (link !== undefined && codeOf(inner) === 'ENOENT') {
            return new EngineError('output-unwritable', `${p} is a symbolic link to ${link}, which does not exist`, {
              hint: `create the directory it points to (mkdir -p ${resolve(dirname(p), link)}) or remove the link`,
              cause: error,
            });
          }
        }
        if (dirname(p) === p) break;
      }
      const harder = join(resolve(outDir), '.harder');
      if (exists(harder) && !statSync(harder).isDirectory()) {
        return new EngineError('output-unwritable', `${harder} is not a directory`, { hint: 'the build keeps its state in that directory: move or remove it', cause: error });
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Runs fs calls that create things in the state directory, turning the expected failures into output-unwritable. */
function writing<T>(outDir: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    throw outputDirError(error, outDir) ?? error;
  }
}

/** Takes `<outDir>/.harder/lock`, or throws lock-held naming the other process (output-unwritable if it cannot be written). */
export function acquireLock(outDir: string, what = 'build'): Lock {
  const dir = join(resolve(outDir), '.harder');
  const file = join(dir, 'lock');
  const nonce = `${process.pid.toString(36)}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const me: Holder = { pid: process.pid, start: myStart(), boot: bootId(), nonce, started: new Date().toISOString(), what, argv: process.argv.slice(1) };
  const content = JSON.stringify(me);
  const temp = join(dir, `lock.tmp-${nonce}`);
  writing(outDir, () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(temp, content);
  });
  let links = true;
  /** Creates `path` holding our content unless it exists: link() of the temp file, or O_EXCL + write. */
  const create = (path: string): boolean => {
    try {
      if (links) {
        linkSync(temp, path);
        return true;
      }
    } catch (error) {
      const code = codeOf(error);
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw outputDirError(error, outDir) ?? error;
      links = false; // this file system has no hard links
    }
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (error) {
      if (codeOf(error) === 'EEXIST') return false;
      throw outputDirError(error, outDir) ?? error;
    }
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return true;
  };
  const remove = (path: string): void => {
    try {
      unlinkSync(path);
    } catch {
      /* already gone */
    }
  };

  /** Step 3: deletes the stale lock `seen` unless it changed. Returns who is taking it over if a live run is. */
  const takeOver = (seen: Seen): Holder | undefined => {
    for (let generation = 0; ; generation++) {
      const marker = join(dir, `lock.break-${seen.key}.${generation}`);
      if (create(marker)) {
        try {
          const now = inspect(file);
          if (now && now.key === seen.key && now.state === 'stale') remove(file);
        } finally {
          remove(marker);
        }
        return undefined;
      }
      const breaker = inspect(marker);
      if (!breaker) return undefined; // it just finished: look again
      if (breaker.state !== 'stale') return breaker.holder ?? { pid: 0 };
      // Killed mid-takeover: never broken, the next generation is used.
    }
  };

  let tookOver = false;
  const deadline = Date.now() + GIVE_UP_MS;
  let busy: Holder | undefined;
  try {
    for (;;) {
      if (create(file)) break;
      const seen = inspect(file);
      if (!seen) continue; // released meanwhile
      if (seen.state === 'mine') {
        throw new EngineError('lock-held', `this process already runs a build on ${outDir}`, { hint: 'await the first runBuild before starting another on the same output directory' });
      }
      if (seen.state === 'alive') {
        const holder = seen.holder!;
        throw new EngineError('lock-held', `another run (pid ${holder.pid}) is using ${outDir}`, {
          hint: `wait for it to finish, or stop it (kill ${holder.pid}); it started ${holder.started ?? 'at an unknown time'}${holder.argv ? ` as: ${holder.argv.join(' ')}` : ''}`,
        });
      }
      if (Date.now() > deadline) {
        throw new EngineError('lock-held', `could not take the lock ${file}${busy?.pid ? `: run ${busy.pid} is taking it over` : ''}`, {
          hint: `run again; if no other run is active, remove ${file}`,
        });
      }
      if (seen.state === 'young') {
        sleep(20);
        continue;
      }
      busy = takeOver(seen);
      if (busy) sleep(2);
      else tookOver = true;
    }
  } finally {
    remove(temp);
  }
  held.set(file, nonce);
  if (tookOver) sweep(dir, nonce);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      held.delete(file);
      // Only our own lock: never one that replaced it.
      let text = '';
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        return;
      }
      if (parseHolder(text)?.nonce === nonce) remove(file);
    },
  };
}

/** Step 4: removes takeover markers for locks that are gone and temp files of dead runs. */
function sweep(dir: string, nonce: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    const stale = name.startsWith('lock.break-') ? !name.startsWith(`lock.break-${nonce}.`) : name.startsWith('lock.tmp-') && inspect(path)?.state === 'stale';
    if (stale) {
      try {
        unlinkSync(path);
      } catch {
        /* someone else swept it */
      }
    }
  }
}
