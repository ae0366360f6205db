// The stat cache: file content hashes remembered with the file's size, mtime, ctime and inode, so a file
// is re-hashed only when one of those changed (as git's index does). Persisted in output/.harder/.

import { readFileSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { sha256 } from './hash.ts';
import { writeFileAtomic } from './atomic.ts';

/**
 * What the cache knows about one file. `mode` (the permission bits) is kept only for owned outputs,
 * in state records: a target owns its files' modes too (a key made world-readable is drift).
 */
export type FileStamp = { hash: string; size: number; mtimeMs: number; ctimeMs: number; ino: number; mode?: number };

/** The permission bits of a file (what chmod sets). */
export function modeOf(stats: Stats): number {
  return stats.mode & 0o7777;
}

/** A mode as chmod and ls write it: 0600, 0644, 04755. */
export function modeText(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/** Counts actual content hashes (not cache hits); tests read it to prove the cache works. */
export const hashCounter = { files: 0 };

/**
 * Format 2 (`stat-cache.tsv`): a header line, then one line per file,
 * `<absolute path>\t<hash>\t<size>\t<mtimeMs>\t<ctimeMs>\t<ino>`. A load only indexes where each
 * path's line starts; a line is parsed when its path is asked for (a no-op run over 10,000 targets
 * builds no stamp objects). Format 1 (`stat-cache.json`, one JSON object) is still read when there
 * is no format 2 file, and removed once the format 2 file is written: nothing is re-hashed.
 */
const HEADER = 'harder-stat-cache\t2';
const OLD_FORMAT = 1;

/** True when `stats` still describes the file the stamp was made from. */
export function stampMatches(stamp: FileStamp, stats: Stats): boolean {
  return stamp.size === stats.size && stamp.mtimeMs === stats.mtimeMs && stamp.ctimeMs === stats.ctimeMs && stamp.ino === stats.ino;
}

/** Hashes a file's content now (no cache), returning its stamp with its mode, or undefined when it does not exist. */
export function stampFile(absPath: string): FileStamp | undefined {
  const stats = statSync(absPath, { throwIfNoEntry: false });
  if (!stats || !stats.isFile()) return undefined;
  hashCounter.files++;
  const hash = sha256(readFileSync(absPath));
  return { hash, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino, mode: modeOf(stats) };
}

/**
 * The stamp (with mode) of the file `stats` describes, compared with a recorded one: the content is
 * re-hashed only when the stat differs (a chmod changes the ctime but keeps the recorded hash).
 */
export function restamp(absPath: string, stats: Stats, recorded: FileStamp): FileStamp {
  const stat = { size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino, mode: modeOf(stats) };
  if (stampMatches(recorded, stats)) return { hash: recorded.hash, ...stat };
  hashCounter.files++;
  return { hash: sha256(readFileSync(absPath)), ...stat };
}

/**
 * A cache entry: where its line starts in the loaded text (not yet used this run), the same offset
 * as -1 - offset once used (so marking an entry used allocates nothing), or a stamp made this run.
 */
type Entry = number | FileStamp;

/** The stamp line for one path (tab-separated; see HEADER). */
const line = (path: string, s: FileStamp): string => `${path}\t${s.hash}\t${s.size}\t${s.mtimeMs}\t${s.ctimeMs}\t${s.ino}\n`;

export class StatCache {
  /** Where the cache is persisted (format 2). */
  readonly #file: string;
  /** The format 1 file read when there is no format 2 file yet. */
  readonly #oldFile: string | undefined;
  #entries: Map<string, Entry> | undefined;
  #text = '';
  #dirty = false;
  /** A format 1 file was read: it is replaced by the format 2 file on save. */
  #fromOld = false;
  /** How many distinct entries were used this run; entries nobody asked about for a while are dropped on save. */
  #used = 0;

  /**
   * `file` is where the cache is persisted (loaded lazily on first use); `oldFile` a format 1 cache
   * to read when `file` does not exist yet.
   */
  constructor(file: string, oldFile?: string) {
    this.#file = file;
    this.#oldFile = oldFile;
  }

  #load(): Map<string, Entry> {
    if (this.#entries) return this.#entries;
    const entries = new Map<string, Entry>();
    this.#entries = entries;
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch {
      text = this.#readOld();
    }
    // Another header, or a corrupt file: start empty; everything is simply re-hashed once.
    if (!text.startsWith(`${HEADER}\n`)) return entries;
    this.#text = text;
    for (let pos = HEADER.length + 1; pos < text.length; ) {
      const nl = text.indexOf('\n', pos);
      if (nl === -1) break;
      const tab = text.indexOf('\t', pos);
      if (tab !== -1 && tab < nl) entries.set(text.slice(pos, tab), tab + 1);
      pos = nl + 1;
    }
    return entries;
  }

  /** A format 1 cache as format 2 text (the next save writes it and removes the old file), or ''. */
  #readOld(): string {
    if (!this.#oldFile) return '';
    try {
      const data = JSON.parse(readFileSync(this.#oldFile, 'utf8')) as { format?: number; files?: Record<string, FileStamp> };
      this.#fromOld = true;
      this.#dirty = true;
      const parts = [`${HEADER}\n`];
      if (data.format === OLD_FORMAT && data.files) {
        for (const path in data.files) if (!path.includes('\n') && !path.includes('\t')) parts.push(line(path, data.files[path]!));
      }
      return parts.join('');
    } catch {
      return ''; // missing or unreadable: empty cache
    }
  }

  /** The stamp in the loaded text at `at` (just after the path's tab), or undefined if the line is damaged. */
  #parse(at: number): FileStamp | undefined {
    const text = this.#text;
    const end = text.indexOf('\n', at);
    const t1 = text.indexOf('\t', at);
    const t2 = text.indexOf('\t', t1 + 1);
    const t3 = text.indexOf('\t', t2 + 1);
    const t4 = text.indexOf('\t', t3 + 1);
    if (t1 === -1 || t2 === -1 || t3 === -1 || t4 === -1 || t4 > end) return undefined;
    const stamp = { hash: text.slice(at, t1), size: Number(text.slice(t1 + 1, t2)), mtimeMs: Number(text.slice(t2 + 1, t3)), ctimeMs: Number(text.slice(t3 + 1, t4)), ino: Number(text.slice(t4 + 1, end)) };
    return Number.isNaN(stamp.size + stamp.mtimeMs + stamp.ctimeMs + stamp.ino) ? undefined : stamp;
  }

  /**
   * The stamp of the file at `absPath`: from the cache when size/mtime/ctime/inode are unchanged,
   * hashed otherwise. Undefined when the file does not exist (or is not a regular file).
   */
  stamp(absPath: string): FileStamp | undefined {
    const entries = this.#load();
    const stats = statSync(absPath, { throwIfNoEntry: false });
    if (!stats || !stats.isFile()) return undefined;
    const entry = entries.get(absPath);
    let cached: FileStamp | undefined;
    if (typeof entry === 'number') {
      if (entry >= 0) {
        this.#used++;
        entries.set(absPath, -1 - entry);
        cached = this.#parse(entry);
      } else cached = this.#parse(-1 - entry);
    } else cached = entry; // made this run (and counted as used then)
    if (cached && stampMatches(cached, stats)) return cached;
    hashCounter.files++;
    const hash = sha256(readFileSync(absPath));
    const stamp: FileStamp = { hash, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, ino: stats.ino };
    if (entry === undefined) this.#used++;
    // A file modified within the last moment could change again within the same mtime tick without its
    // stamp changing ("racily clean" in git's terms); such entries are not kept, so they are re-hashed next time.
    if (Date.now() - stats.mtimeMs > 20) {
      entries.set(absPath, stamp);
      this.#dirty = true;
    } else if (entry !== undefined) {
      entries.delete(absPath);
      this.#dirty = true;
    }
    return stamp;
  }

  /** Writes the cache if anything was added (and a format 1 file in format 2). */
  save(): void {
    if (!this.#entries) return;
    // Files that are no longer inputs (renamed, deleted, a smaller config) would otherwise stay
    // forever: when most entries went unused this run, keep only the used ones.
    const prune = this.#entries.size > 2 * this.#used + 1000;
    if (!this.#dirty && !prune) return;
    const text = this.#text;
    const parts: string[] = [`${HEADER}\n`];
    for (const [path, entry] of this.#entries) {
      if (path.includes('\n') || path.includes('\t')) continue; // not representable: re-hashed next time
      if (typeof entry === 'number') {
        if (prune && entry >= 0) continue;
        const at = entry >= 0 ? entry : -1 - entry;
        const end = text.indexOf('\n', at);
        parts.push(`${path}\t${text.slice(at, end + 1)}`);
      } else parts.push(line(path, entry));
    }
    writeFileAtomic(this.#file, parts.join(''));
    this.#dirty = false;
    if (this.#fromOld && this.#oldFile) {
      try {
        unlinkSync(this.#oldFile);
      } catch {
        /* already gone */
      }
      this.#fromOld = false;
    }
  }
}
