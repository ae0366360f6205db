// State records: what each target's last successful build was made from (key, input manifest) and
// what it produced (result, owned files). Kept in one append-only journal, output/.harder/state.log
// (as ninja's .ninja_log): a run reads it once, appends a line per change, and compacts it when it
// has grown. A kill can only tear the last line, which the next load ignores.
//
// Line format: `<JSON of the target name>\t<payload>`; the name comes first so a load can index every
// line and parse only the records it needs. A record's payload is two JSON texts separated by a tab:
// the fields every up-to-date check reads (key, result, owned-file stamps), then the manifest and
// timings, which are parsed only when something asks (--explain). JSON never contains a raw tab.
// Other payloads: `{"invalidated":true}`
// (the target started rebuilding: its record is no longer trusted, its result is kept as `previous`);
// `{"removed":true}` (cleaned). The first line is a header naming the format version.
//
// One journal instead of one file per target: a no-op run over 10,000 targets reads one file instead
// of 10,000 (bench/engine.ts measures both layouts; see the figures in the engine issue report).

import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../target.ts';
import { writeFileAtomic } from './atomic.ts';
import type { FileStamp } from './stat-cache.ts';

/** Bumped when the record layout changes; a journal or record of another schema means "rebuild". */
export const SCHEMA = 1;
const HEADER = `{"harder-state":${SCHEMA}}`;

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
  /** Null while invalidated: the target started rebuilding and has not finished successfully. */
  key: string | null;
  manifest: Manifest;
  result: Json;
  resultHash: string;
  /** Owned files (project-relative) with the stamp they had when the build finished. */
  outputs: Record<string, FileStamp>;
  /** ISO time the build finished. */
  builtAt: string;
  /** How long the build took. */
  ms: number;
};

/** A record as read: absent, unusable (another schema, corrupt), or present. */
export type ReadRecord = { kind: 'missing' } | { kind: 'unusable'; why: string } | { kind: 'ok'; record: TargetRecord };

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

type Slot = { raw?: string; invalidated?: boolean; parsed?: ReadRecord };

const EMPTY_MANIFEST: Manifest = { version: 0, files: {}, values: {}, env: {}, deps: {}, outputs: [] };

type ColdPart = { manifest: Manifest; builtAt: string; ms: number };

/**
 * A record read from the journal: the hot fields are copied from the parsed hot part; the manifest and
 * timings (the cold part) are parsed on first access, through getters on the prototype (no per-record
 * closures). A class instance rather than JSON.parse's object with its prototype swapped: V8 gives
 * every instance one shape, where setPrototypeOf on 10,000 fresh objects costs a map transition each.
 */
class JournalRecord {
  schema: number;
  name: string;
  key: string | null;
  result: Json;
  resultHash: string;
  outputs: Record<string, FileStamp>;
  /** The cold part's JSON text, then its parsed value (never serialised: not enumerable-by-JSON). */
  #cold: string;
  #parsed: ColdPart | undefined;
  declare manifest: Manifest;
  declare builtAt: string;
  declare ms: number;

  constructor(hot: TargetRecord, cold: string) {
    this.schema = hot.schema;
    this.name = hot.name;
    this.key = hot.key;
    this.result = hot.result;
    this.resultHash = hot.resultHash;
    this.outputs = hot.outputs;
    this.#cold = cold;
  }

  coldPart(): ColdPart {
    if (!this.#parsed) {
      let data: Partial<ColdPart> | undefined;
      try {
        data = JSON.parse(this.#cold);
      } catch {
        /* damaged */
      }
      this.#parsed = { manifest: data?.manifest ?? EMPTY_MANIFEST, builtAt: data?.builtAt ?? '', ms: data?.ms ?? 0 };
    }
    return this.#parsed;
  }
}

Object.defineProperties(JournalRecord.prototype, {
  manifest: { get(this: JournalRecord) { return this.coldPart().manifest; }, enumerable: true },
  builtAt: { get(this: JournalRecord) { return this.coldPart().builtAt; }, enumerable: true },
  ms: { get(this: JournalRecord) { return this.coldPart().ms; }, enumerable: true },
});

/** A record's payload: the hot part, a tab, the cold part (see the file comment). */
function serialise(record: TargetRecord): string {
  const { schema, name, key, result, resultHash, outputs, manifest, builtAt, ms } = record;
  return `${JSON.stringify({ schema, name, key, result, resultHash, outputs })}\t${JSON.stringify({ manifest, builtAt, ms })}`;
}

function parseRecord(name: string, raw: string): ReadRecord {
  const tab = raw.indexOf('\t');
  try {
    const record = JSON.parse(tab === -1 ? raw : raw.slice(0, tab)) as TargetRecord;
    if (!record || typeof record !== 'object') return { kind: 'unusable', why: 'its state record is corrupt' };
    if (record.schema !== SCHEMA) return { kind: 'unusable', why: `its state record has schema ${String(record.schema)}, this engine writes ${SCHEMA}` };
    if (record.name !== name || typeof record.resultHash !== 'string' || !record.outputs || tab === -1) return { kind: 'unusable', why: 'its state record is corrupt' };
    // The cold part is parsed on first access. If it is damaged the manifest reads as empty, which can
    // only make --explain list more changes; the key alone decides staleness.
    return { kind: 'ok', record: new JournalRecord(record, raw.slice(tab + 1)) as unknown as TargetRecord };
  } catch {
    return { kind: 'unusable', why: 'its state record is corrupt (not JSON)' };
  }
}

/**
 * The state of every target, loaded once from the journal. Writers must hold the run lock
 * (lib/engine/lock.ts); readers without it (dry runs, readStoredResult) see a consistent prefix.
 */
export class StateStore {
  readonly file: string;
  readonly #slots = new Map<string, Slot>();
  #lines = 0;
  #fd: number | undefined;
  /** The file must be rewritten before appending (missing header, foreign schema, torn tail). */
  #rewrite = false;
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
    const lines = text.split('\n');
    // A last line without its newline was torn by a kill mid-append: ignore it.
    if (!text.endsWith('\n')) this.#tornTail = lines.pop() !== '';
    else lines.pop();
    if (lines[0] !== HEADER) {
      // Another format version, or not a journal at all: everything is rebuilt (ninja does the same).
      this.#rewrite = true;
      return;
    }
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const tab = line.indexOf('\t');
      if (tab === -1) continue;
      let name: string;
      const quoted = line.slice(0, tab);
      if (quoted.length >= 2 && quoted.charCodeAt(0) === 34 && quoted.charCodeAt(quoted.length - 1) === 34 && !quoted.includes('\\')) {
        name = quoted.slice(1, -1); // a JSON string without escapes is its own content
      } else {
        try {
          name = JSON.parse(quoted) as string;
        } catch {
          continue;
        }
      }
      const payload = line.slice(tab + 1);
      if (payload === '{"invalidated":true}') {
        const slot = this.#slots.get(name);
        if (slot) {
          slot.invalidated = true;
          slot.parsed = undefined;
        }
      } else if (payload === '{"removed":true}') {
        this.#slots.delete(name);
      } else {
        this.#slots.set(name, { raw: payload });
      }
    }
    this.#lines = lines.length - 1;
  }

  /** The record of a target (key null when invalidated). */
  get(name: string): ReadRecord {
    const slot = this.#slots.get(name);
    if (!slot) return { kind: 'missing' };
    if (!slot.parsed) {
      const read = parseRecord(name, slot.raw!);
      if (read.kind === 'ok' && slot.invalidated) read.record.key = null;
      slot.parsed = read;
    }
    return slot.parsed;
  }

  /** Names with a record. */
  names(): string[] {
    return [...this.#slots.keys()];
  }

  #append(name: string, payload: string): void {
    if (this.#fd === undefined) {
      if (this.#rewrite) {
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
    const raw = serialise(record);
    this.#slots.set(record.name, { raw, parsed: { kind: 'ok', record } });
    this.#append(record.name, raw);
  }

  /**
   * Marks a record as not trustworthy before its target rebuilds: a crash mid-build must not leave a
   * record that says "up to date". The previous result is kept so the next build can reuse it.
   */
  invalidate(name: string): void {
    const slot = this.#slots.get(name);
    if (!slot || slot.invalidated) return;
    slot.invalidated = true;
    slot.parsed = undefined;
    this.#append(name, '{"invalidated":true}');
  }

  /** Forgets a target (clean). Returns whether it had a record. */
  remove(name: string): boolean {
    if (!this.#slots.has(name)) return false;
    this.#slots.delete(name);
    this.#append(name, '{"removed":true}');
    return true;
  }

  /** Rewrites the journal with one line per live record (temp file + rename). */
  #compact(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
    let text = `${HEADER}\n`;
    let lines = 0;
    for (const [name, slot] of this.#slots) {
      if (!slot.raw && !slot.parsed) continue;
      const raw = slot.raw ?? serialise((slot.parsed as { record: TargetRecord }).record);
      text += `${JSON.stringify(name)}\t${raw}\n`;
      lines++;
      if (slot.invalidated) {
        text += `${JSON.stringify(name)}\t{"invalidated":true}\n`;
        lines++;
      }
    }
    writeFileAtomic(this.file, text);
    this.#lines = lines;
    this.#rewrite = false;
    this.#tornTail = false;
  }

  /** Ends the run's writes: compacts when the journal holds many superseded lines. */
  close(): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
      if (this.#lines > 2 * this.#slots.size + 100) this.#compact();
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
  if (read.kind !== 'ok' || read.record.key === null) return undefined;
  return read.record.result;
}
