// State records: what each target's last successful build was made from (key, input manifest) and
// what it produced (result, owned files). Kept in one append-only journal, output/.harder/state.log
// (as ninja's .ninja_log): a run reads it once, appends a line per change, and compacts it when it
// has grown. A kill can only tear the last line, which the next load ignores.
//
// Line format: `<JSON of the target name>\t<payload>`; the name comes first so a load can index every
// line and parse only the records it needs. JSON never contains a raw tab or newline, so tabs separate
// fields. A record's payload (format 3) is five fields:
//   <key>\t<result hash>\t<result JSON>\t<owned-file stamps JSON>\t<manifest and timings JSON>
// The first four are what an up-to-date check reads; the last is parsed only when something asks
// (--explain). Stamps are flat: [path, hash, size, mtimeMs, ctimeMs, ino, mode, path, ...]; the mode
// (permission bits) is part of what a target owns, null when not known (carried over from format 2).
// The manifest leaves out what the record already holds (the declared outputs are the stamps' paths).
// Format 2 payloads (the same, stamps without the mode) are still read, so a journal written by the
// previous engine rebuilds nothing; the first compaction rewrites it in format 3. (Format 1, the first
// engine's one JSON object per record, is not: see lib/engine/README.md.) Other payloads: `{"invalidated":true}` (a target whose artefacts the engine cannot
// check started rebuilding: its record is reported as invalidated, its result is kept as `previous`);
// `{"removed":true}` (cleaned). The first line is a header naming the format version.
//
// One journal instead of one file per target: a no-op run over 10,000 targets reads one file instead
// of 10,000 (bench/engine.ts measures both layouts; see the figures in the engine issue report).
// The journal is indexed, not split: a load records where each target's latest line starts and keeps
// the text; a record is parsed when asked for and not kept, so a no-op run holds no parsed records.

import { closeSync, openSync, readFileSync, writeSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Json } from './target.ts';
import { writeFileAtomic } from './atomic.ts';
import { modeOf, stampMatches, type FileStamp } from './stat-cache.ts';

/** The record schema this engine writes; format 2 records are read too. Other schemas mean "rebuild". */
export const SCHEMA = 3;
const HEADER = `{"harder-state":${SCHEMA}}`;
/** A journal written by the previous engine: read as it is, rewritten in format 3 by the next compaction. */
const HEADER_2 = '{"harder-state":2}';
const INVALIDATED = '{"invalidated":true}';
const REMOVED = '{"removed":true}';

/**
 * What went into a key, by name, so `--explain` can say which input changed (from → to).
 * File and dependency entries hold hashes; values and env hold the values themselves.
 */
export type Manifest = {
  version: number;
  files: Record<string, string>;
  values: Record<string, Json>;
  env: Record<string, string | null>;
  /** alias → "<dependency name>@<result hash>" */
  deps: Record<string, string>;
  outputs: string[];
};

export type TargetRecord = {
  schema: number;
  name: string;
  key: string;
  manifest: Manifest;
  result: Json;
  resultHash: string;
  /** Owned files (project-relative) with the stamp (and mode) they had when the build finished. */
  outputs: Record<string, FileStamp>;
  /** ISO time the build finished. */
  builtAt: string;
  /** How long the build took. */
  ms: number;
};

/**
 * A record as read: absent, unusable (another schema, corrupt), or present. `invalidated`: a build of
 * the target started after the record was written and did not finish (the executor decides what that
 * means: see executor.ts, trustsOwnChecks).
 */
export type ReadRecord = { kind: 'missing' } | { kind: 'unusable'; why: string } | { kind: 'ok'; record: TargetRecord; invalidated?: boolean };

/**
 * A copy of a record with some fields changed. Use this, not a spread: records read from the journal
 * keep their manifest behind prototype getters, which a spread does not copy.
 */
export function withChanges(record: TargetRecord, changes: Partial<TargetRecord>): TargetRecord {
  const { schema, name, key, manifest, result, resultHash, outputs, builtAt, ms } = record;
  return { schema, name, key, manifest, result, resultHash, outputs, builtAt, ms, ...changes };
}

/** Where the journal lives. */
export function journalPath(outDir: string): string {
  return join(outDir, '.harder', 'state.log');
}

/**
 * A target's latest state. A number is where its record's payload starts in the loaded text (the
 * common case: one small integer per target, nothing parsed). An object is a record written or
 * invalidated in this run, or a loaded one that was invalidated.
 */
type Slot = number | { payload: number | string; invalidated: boolean; record?: TargetRecord };

const EMPTY_MANIFEST: Manifest = { version: 0, files: {}, values: {}, env: {}, deps: {}, outputs: [] };

type ColdPart = { manifest: Manifest; builtAt: string; ms: number };

/** The cold part (formats 2 and 3) as written: empty maps and the outputs (the stamps' paths) are left out. */
type ColdJson = { version?: number; files?: Record<string, string>; values?: Record<string, Json>; env?: Record<string, string | null>; deps?: Record<string, string>; builtAt?: string; ms?: number };

/**
 * A record read from the journal: key, result and result hash are read at once; the owned-file
 * stamps, the manifest and the timings are parsed on first access, through getters on the prototype
 * (no per-record closures). A class instance: V8 gives every instance one shape.
 */
class JournalRecord {
  schema: number;
  name: string;
  key: string;
  result: Json;
  resultHash: string;
  /** The stamps' JSON text (formats 2 and 3), then their parsed value. */
  #outputsText: string | undefined;
  #outputs: Record<string, FileStamp> | undefined;
  /** The cold part's JSON text, then its parsed value. */
  #cold: string;
  #parsed: ColdPart | undefined;
  declare outputs: Record<string, FileStamp>;
  declare manifest: Manifest;
  declare builtAt: string;
  declare ms: number;

  constructor(schema: number, name: string, key: string, result: Json, resultHash: string, outputs: Record<string, FileStamp> | undefined, outputsText: string | undefined, cold: string) {
    this.schema = schema;
    this.name = name;
    this.key = key;
    this.result = result;
    this.resultHash = resultHash;
    this.#outputs = outputs;
    this.#outputsText = outputsText;
    this.#cold = cold;
  }

  outputsPart(): Record<string, FileStamp> {
    if (!this.#outputs) {
      // Checked when the record was read: a flat array of 7-tuples (format 2: 6-tuples, no mode).
      const flat = JSON.parse(this.#outputsText!) as (string | number | null)[];
      const width = this.schema === 2 ? 6 : 7;
      const outputs: Record<string, FileStamp> = {};
      for (let i = 0; i + width - 1 < flat.length; i += width) {
        const stamp: FileStamp = { hash: flat[i + 1] as string, size: flat[i + 2] as number, mtimeMs: flat[i + 3] as number, ctimeMs: flat[i + 4] as number, ino: flat[i + 5] as number };
        if (width === 7 && typeof flat[i + 6] === 'number') stamp.mode = flat[i + 6] as number;
        outputs[flat[i] as string] = stamp;
      }
      this.#outputs = outputs;
    }
    return this.#outputs;
  }

  /**
   * Whether `stats` matches the stamp recorded for `path`, mode included. On a format 3 record the
   * stat is compared with the stamp's text (JSON writes numbers as `${n}` does), so an up-to-date
   * check builds no stamp objects; false sends the caller to the full comparison.
   */
  stampMatches(path: string, stats: Stats): boolean {
    const text = this.#outputsText;
    if (this.#outputs || this.schema !== SCHEMA || text === undefined || text.includes('\\') || path.includes('"')) {
      const stamp = this.outputsPart()[path];
      return !!stamp && ownedStampMatches(stamp, stats);
    }
    // A tuple is "path","hash",size,mtimeMs,ctimeMs,ino,mode; only a path can be followed by ,"
    const at = text.indexOf(`"${path}","`);
    if (at === -1) return false;
    const hashEnd = text.indexOf('"', at + path.length + 4);
    if (hashEnd === -1) return false;
    const expected = `,${stats.size},${stats.mtimeMs},${stats.ctimeMs},${stats.ino},${modeOf(stats)}`;
    if (!text.startsWith(expected, hashEnd + 1)) return false;
    const after = text.charCodeAt(hashEnd + 1 + expected.length);
    return after === 44 || after === 93; // the tuple ends: `,` or `]`
  }

  coldPart(): ColdPart {
    if (!this.#parsed) {
      let data: ColdJson | undefined;
      try {
        data = JSON.parse(this.#cold);
      } catch {
        /* damaged */
      }
      // If it is damaged the manifest reads as empty, which can only make --explain list more
      // changes; the key alone decides staleness.
      const manifest: Manifest = data
        ? { version: data.version ?? 0, files: data.files ?? {}, values: data.values ?? {}, env: data.env ?? {}, deps: data.deps ?? {}, outputs: Object.keys(this.outputsPart()) }
        : EMPTY_MANIFEST;
      this.#parsed = { manifest, builtAt: data?.builtAt ?? '', ms: data?.ms ?? 0 };
    }
    return this.#parsed;
  }
}

Object.defineProperties(JournalRecord.prototype, {
  outputs: { get(this: JournalRecord) { return this.outputsPart(); }, enumerable: true },
  manifest: { get(this: JournalRecord) { return this.coldPart().manifest; }, enumerable: true },
  builtAt: { get(this: JournalRecord) { return this.coldPart().builtAt; }, enumerable: true },
  ms: { get(this: JournalRecord) { return this.coldPart().ms; }, enumerable: true },
});

/** An owned file's stamp still describes it: same stat and same mode (unknown mode: look closer). */
function ownedStampMatches(stamp: FileStamp, stats: Stats): boolean {
  return stamp.mode === modeOf(stats) && stampMatches(stamp, stats);
}

/** Whether `stats` matches the stamp `record` holds for the owned file `path`, mode included (see JournalRecord.stampMatches). */
export function recordedStampMatches(record: TargetRecord, path: string, stats: Stats): boolean {
  if (record instanceof JournalRecord) return record.stampMatches(path, stats);
  const stamp = record.outputs[path];
  return !!stamp && ownedStampMatches(stamp, stats);
}

const isEmpty = (record: Record<string, unknown>): boolean => {
  for (const _ in record) return false;
  return true;
};

/** A record's format 3 payload (see the file comment). */
export function serialise(record: TargetRecord): string {
  const { key, result, resultHash, outputs, manifest, builtAt, ms } = record;
  const flat: (string | number | null)[] = [];
  for (const path in outputs) {
    const s = outputs[path]!;
    flat.push(path, s.hash, s.size, s.mtimeMs, s.ctimeMs, s.ino, s.mode ?? null);
  }
  const cold: ColdJson = {};
  if (manifest.version) cold.version = manifest.version;
  if (!isEmpty(manifest.files)) cold.files = manifest.files;
  if (!isEmpty(manifest.values)) cold.values = manifest.values;
  if (!isEmpty(manifest.env)) cold.env = manifest.env;
  if (!isEmpty(manifest.deps)) cold.deps = manifest.deps;
  cold.builtAt = builtAt;
  cold.ms = ms;
  return `${key}\t${resultHash}\t${JSON.stringify(result ?? null)}\t${JSON.stringify(flat)}\t${JSON.stringify(cold)}`;
}

const corrupt: ReadRecord = { kind: 'unusable', why: 'its state record is corrupt' };

/** Reads a format 2 or 3 (`schema`) payload starting at `at` in `text` (it ends at the next newline, or the end). */
function parseRecord2(name: string, text: string, at: number, schema: number): ReadRecord {
  const t1 = text.indexOf('\t', at);
  const t2 = t1 === -1 ? -1 : text.indexOf('\t', t1 + 1);
  const t3 = t2 === -1 ? -1 : text.indexOf('\t', t2 + 1);
  const t4 = t3 === -1 ? -1 : text.indexOf('\t', t3 + 1);
  let end = text.indexOf('\n', at);
  if (end === -1) end = text.length;
  if (t4 === -1 || t4 > end || t1 === at || t2 === t1 + 1) return corrupt;
  let result: Json;
  try {
    result = JSON.parse(text.slice(t2 + 1, t3)) as Json;
  } catch {
    return { kind: 'unusable', why: 'its state record is corrupt (not JSON)' };
  }
  const outputsText = text.slice(t3 + 1, t4);
  // The stamps are parsed on first use; only their frame is checked here.
  if (outputsText.charCodeAt(0) !== 91 || outputsText.charCodeAt(outputsText.length - 1) !== 93) return corrupt;
  const outputs = outputsText === '[]' ? {} : undefined;
  return { kind: 'ok', record: new JournalRecord(schema, name, text.slice(at, t1), result, text.slice(t1 + 1, t2), outputs, outputsText, text.slice(t4 + 1, end)) as unknown as TargetRecord };
}

/**
 * The state of every target, loaded once from the journal. Writers must hold the run lock
 * (lib/engine/lock.ts); readers without it (dry runs, readStoredResult) see a consistent prefix.
 */
export class StateStore {
  readonly file: string;
  readonly #slots = new Map<string, Slot>();
  /** The journal as loaded; numeric slots point into it. */
  #text = '';
  #lines = 0;
  #fd: number | undefined;
  /** The file must be rewritten before appending (missing header, another format, torn tail). */
  #rewrite = false;
  /** Loaded from a format 2 journal: the next writer rewrites it in format 3. */
  #old = false;
  /** The format of the loaded text's payloads (2 or 3). */
  #schema = SCHEMA;
  #tornTail = false;

  constructor(outDir: string) {
    this.file = journalPath(outDir);
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      this.#rewrite = true;
      return;
    }
    let pos = text.indexOf('\n');
    const header = pos === -1 ? text : text.slice(0, pos);
    if (header === HEADER_2) {
      this.#old = true;
      this.#schema = 2;
    } else if (header !== HEADER) {
      // Another format version, or not a journal at all: everything is rebuilt (ninja does the same).
      this.#rewrite = true;
      return;
    }
    this.#text = text;
    const slots = this.#slots;
    let lines = 0;
    for (pos++; pos < text.length; ) {
      const nl = text.indexOf('\n', pos);
      // A last line without its newline was torn by a kill mid-append: ignore it.
      if (nl === -1) {
        this.#tornTail = true;
        break;
      }
      lines++;
      const start = pos;
      pos = nl + 1;
      const tab = text.indexOf('\t', start);
      if (tab === -1 || tab > nl) continue;
      let name: string;
      if (text.charCodeAt(start) === 34 && text.charCodeAt(tab - 1) === 34 && tab - start >= 2) {
        name = text.slice(start + 1, tab - 1);
        // A JSON string without escapes is its own content.
        if (name.includes('\\') || name.includes('"')) name = '';
      } else name = '';
      if (!name) {
        try {
          name = JSON.parse(text.slice(start, tab)) as string;
        } catch {
          continue;
        }
        if (typeof name !== 'string') continue;
      }
      const at = tab + 1;
      if (text.charCodeAt(at) === 123 && nl - at <= INVALIDATED.length) {
        const payload = text.slice(at, nl);
        if (payload === INVALIDATED) {
          const slot = slots.get(name);
          if (typeof slot === 'number') slots.set(name, { payload: slot, invalidated: true });
          else if (slot) slot.invalidated = true;
          continue;
        }
        if (payload === REMOVED) {
          slots.delete(name);
          continue;
        }
      }
      slots.set(name, at);
    }
    this.#lines = lines;
  }

  /** The record of a target (flagged `invalidated` when a build of it started and did not finish). */
  get(name: string): ReadRecord {
    const slot = this.#slots.get(name);
    if (slot === undefined) return { kind: 'missing' };
    if (typeof slot === 'number') return parseRecord2(name, this.#text, slot, this.#schema);
    if (slot.record && !slot.invalidated) return { kind: 'ok', record: slot.record };
    const read = typeof slot.payload === 'number' ? parseRecord2(name, this.#text, slot.payload, this.#schema) : parseRecord2(name, slot.payload, 0, SCHEMA);
    if (read.kind === 'ok' && slot.invalidated) read.invalidated = true;
    return read;
  }

  /** Names with a record. */
  names(): string[] {
    return [...this.#slots.keys()];
  }

  #append(name: string, payload: string): void {
    if (this.#fd === undefined) {
      if (this.#rewrite || this.#old) {
        this.#compact();
      }
      this.#fd = openSync(this.file, 'a');
      if (this.#tornTail) {
        writeSync(this.#fd, '\n');
        this.#tornTail = false;
      }
    }
    // One write per line: a kill leaves at most this line torn.
    writeSync(this.#fd, `${JSON.stringify(name)}\t${payload}\n`);
    this.#lines++;
  }

  put(record: TargetRecord): void {
    const payload = serialise(record);
    this.#slots.set(record.name, { payload, invalidated: false, record });
    this.#append(record.name, payload);
  }

  /**
   * Marks a record as possibly outdated before its target rebuilds: for a target whose artefacts the
   * engine cannot check (outside output/), a crash mid-build must not leave a record that says "up to
   * date". The previous result is kept so the next build can reuse it.
   */
  invalidate(name: string): void {
    const slot = this.#slots.get(name);
    if (slot === undefined) return;
    if (typeof slot === 'number') this.#slots.set(name, { payload: slot, invalidated: true });
    else if (slot.invalidated) return;
    else {
      slot.invalidated = true;
      slot.record = undefined;
    }
    this.#append(name, INVALIDATED);
  }

  /** Forgets a target (clean). Returns whether it had a record. */
  remove(name: string): boolean {
    if (!this.#slots.has(name)) return false;
    this.#slots.delete(name);
    this.#append(name, REMOVED);
    return true;
  }

  /** A slot's payload as format 3 text, or undefined when it cannot be read (it is dropped). */
  #payloadNow(name: string, payload: number | string): string | undefined {
    if (typeof payload === 'string') return payload;
    if (this.#schema === SCHEMA) {
      let end = this.#text.indexOf('\n', payload);
      if (end === -1) end = this.#text.length;
      return this.#text.slice(payload, end);
    }
    // Format 2: rewritten in format 3 (key, result, stamps and manifest as they were: nothing
    // rebuilds; modes unknown until the next check records them).
    const read = parseRecord2(name, this.#text, payload, this.#schema);
    return read.kind === 'ok' ? serialise(read.record) : undefined;
  }

  /** Rewrites the journal in format 3 with one line per live record (temp file + rename). */
  #compact(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
    const parts: string[] = [`${HEADER}\n`];
    let lines = 0;
    for (const [name, slot] of this.#slots) {
      const payload = this.#payloadNow(name, typeof slot === 'number' ? slot : slot.payload);
      if (payload === undefined) continue;
      const quoted = JSON.stringify(name);
      parts.push(`${quoted}\t${payload}\n`);
      lines++;
      if (typeof slot !== 'number' && slot.invalidated) {
        parts.push(`${quoted}\t${INVALIDATED}\n`);
        lines++;
      }
    }
    writeFileAtomic(this.file, parts.join(''));
    this.#lines = lines;
    this.#rewrite = false;
    this.#old = false;
    this.#tornTail = false;
  }

  /**
   * Ends the run's writes: compacts when the journal holds many superseded lines, and rewrites a
   * format 2 journal in format 3 (call only while holding the run lock).
   */
  close(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
      if (this.#lines > 2 * this.#slots.size + 100) this.#compact();
    } else if (this.#old) {
      this.#compact();
    }
  }
}

/** Reads one target's record from the journal (loads the whole journal; for tools and tests). */
export function readRecord(outDir: string, name: string): ReadRecord {
  return new StateStore(outDir).get(name);
}

/**
 * The stored result of a target's last successful build, or undefined if it has none (never built,
 * invalidated, or unreadable). For helpers and tests that need to look at what a target produced.
 */
export function readStoredResult(outDir: string, name: string): Json | undefined {
  const read = readRecord(outDir, name);
  if (read.kind !== 'ok' || read.invalidated) return undefined;
  return read.record.result;
}

/** What a project may know of the last runs while it composes its graph: the targets with a record. */
export type RecordedTargets = {
  /** Names of every target with a record (loads the journal once, on the first call). */
  names(): string[];
  /** The stored result of one of them (undefined when it has none usable). */
  result(name: string): Json | undefined;
};

/** A lazy, read-only view of the journal in `outDir` (no lock: a consistent prefix, as for dry runs). */
export function recordedTargets(outDir: string): RecordedTargets {
  let store: StateStore | undefined;
  const load = (): StateStore => (store ??= new StateStore(outDir));
  return {
    names: () => load().names(),
    result: (name) => {
      const read = load().get(name);
      return read.kind === 'ok' && !read.invalidated ? read.record.result : undefined;
    },
  };
}
