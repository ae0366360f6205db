// The stat cache: file content hashes remembered with the file's size, mtime, ctime and inode, so a file
// is re-hashed only when one of those changed (as git's index does). Persisted in output/.harder/.

import { readFileSync, statSync, type Stats } from 'node:fs';
import { sha256 } from './hash.ts';
import { writeFileAtomic } from './atomic.ts';

/** What the cache knows about one file. */
export type FileStamp = { hash: string; size: number; mtimeMs: number; ctimeMs: number; ino: number };

/** Counts actual content hashes (not cache hits); tests read it to prove the cache works. */
export const hashCounter = { files: 0 };

const FORMAT = 1;

/** True when `stats` still describes the file the stamp was made from. */
export function stampMatches(stamp: FileStamp, stats: Stats): boolean {
  return stamp.size === stats.size && stamp.mtimeMs === stats.mtimeMs && stamp.ctimeMs === stats.ctimeMs && stamp.ino === stats.ino;
}

/** Hashes a file's content now (no cache), returning its stamp, or undefined when it does not exist. */
export function stampFile(absPath: string): FileStamp | undefined {
  const stats = statSync(absPath, { throwIfNoEntry: false });
  if (!stats || !stats.isFile()) return undefined;
  hashCounter.files++;
  const hash = sha256(readFileSync(absPath));
  return { hash, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino };
}

/**
 * Compares a file with a recorded stamp: 'same' when its stat still matches (no hashing), 'missing'
 * when it is gone, otherwise its fresh stamp (re-hashed) for the caller to compare hashes.
 */
export function restamp(absPath: string, recorded: FileStamp): 'same' | 'missing' | FileStamp {
  const stats = statSync(absPath, { throwIfNoEntry: false });
  if (!stats || !stats.isFile()) return 'missing';
  if (stampMatches(recorded, stats)) return 'same';
  hashCounter.files++;
  return { hash: sha256(readFileSync(absPath)), size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino };
}

export class StatCache {
  readonly #file: string;
  #entries: Map<string, FileStamp> | undefined;
  #dirty = false;
  /** Paths stamped during this run; entries nobody asked about for a while are dropped on save. */
  readonly #used = new Set<string>();

  /** `file` is where the cache is persisted (loaded lazily on first use). */
  constructor(file: string) {
    this.#file = file;
  }

  #load(): Map<string, FileStamp> {
    if (this.#entries) return this.#entries;
    this.#entries = new Map();
    try {
      const data = JSON.parse(readFileSync(this.#file, 'utf8')) as { format?: number; files?: Record<string, FileStamp> };
      // Another format, or a corrupt file: start empty; everything is simply re-hashed once.
      if (data.format === FORMAT && data.files) for (const path in data.files) this.#entries.set(path, data.files[path]!);
    } catch {
      /* missing or unreadable: empty cache */
    }
    return this.#entries;
  }

  /**
   * The stamp of the file at `absPath`: from the cache when size/mtime/ctime/inode are unchanged,
   * hashed otherwise. Undefined when the file does not exist (or is not a regular file).
   */
  stamp(absPath: string): FileStamp | undefined {
    const entries = this.#load();
    const stats = statSync(absPath, { throwIfNoEntry: false });
    if (!stats || !stats.isFile()) return undefined;
    this.#used.add(absPath);
    const cached = entries.get(absPath);
    if (cached && stampMatches(cached, stats)) return cached;
    hashCounter.files++;
    const hash = sha256(readFileSync(absPath));
    const stamp = { hash, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino };
    // A file modified within the last moment could change again within the same mtime tick without its
    // stamp changing ("racily clean" in git's terms); such entries are not kept, so they are re-hashed next time.
    if (Date.now() - stats.mtimeMs > 20) {
      entries.set(absPath, stamp);
      this.#dirty = true;
    }
    return stamp;
  }

  /** Writes the cache if anything was added. */
  save(): void {
    if (!this.#entries) return;
    // Files that are no longer inputs (renamed, deleted, a smaller config) would otherwise stay
    // forever: when most entries went unused this run, keep only the used ones.
    const prune = this.#entries.size > 2 * this.#used.size + 1000;
    if (!this.#dirty && !prune) return;
    const files: Record<string, FileStamp> = {};
    for (const [path, stamp] of this.#entries) if (!prune || this.#used.has(path)) files[path] = stamp;
    writeFileAtomic(this.#file, JSON.stringify({ format: FORMAT, files }));
    this.#dirty = false;
  }
}
