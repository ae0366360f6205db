// State records: one JSON file per target under output/.harder/targets/<hex(name)>.json, holding what
// the last successful build was made from (key, input manifest) and what it produced (result, owned
// files). Written atomically and only after success; invalidated before the target rebuilds.

import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Json } from '../target.ts';
import { writeFileAtomic } from './atomic.ts';
import type { FileStamp } from './stat-cache.ts';

/** Bumped when the record layout changes; records of another schema are treated as never built. */
export const SCHEMA = 1;

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

/** Where a target's record lives. Names are hex-encoded: `:` and `/` are not safe in every file system. */
export function recordPath(outDir: string, name: string): string {
  return join(outDir, '.harder', 'targets', `${Buffer.from(name).toString('hex')}.json`);
}

/** A record as read: absent, unusable (another schema, corrupt), or present. */
export type ReadRecord = { kind: 'missing' } | { kind: 'unusable'; why: string } | { kind: 'ok'; record: TargetRecord };

/** Reads a record, never throwing: a corrupt or foreign record is reported as unusable (so the target rebuilds). */
export function readRecord(outDir: string, name: string): ReadRecord {
  let text: string;
  try {
    text = readFileSync(recordPath(outDir, name), 'utf8');
  } catch {
    return { kind: 'missing' };
  }
  try {
    const record = JSON.parse(text) as TargetRecord;
    if (!record || typeof record !== 'object') return { kind: 'unusable', why: 'its state record is corrupt' };
    if (record.schema !== SCHEMA) return { kind: 'unusable', why: `its state record has schema ${String(record.schema)}, this engine writes ${SCHEMA}` };
    if (record.name !== name || !record.manifest || typeof record.resultHash !== 'string') return { kind: 'unusable', why: 'its state record is corrupt' };
    return { kind: 'ok', record };
  } catch {
    return { kind: 'unusable', why: 'its state record is corrupt (not JSON)' };
  }
}

export function writeRecord(outDir: string, record: TargetRecord): void {
  writeFileAtomic(recordPath(outDir, record.name), JSON.stringify(record));
}

/**
 * Marks a record as not trustworthy before its target rebuilds: a crash mid-build must not leave a
 * record that says "up to date". The previous result is kept (key null) so the next build can reuse it.
 */
export function invalidateRecord(outDir: string, record: TargetRecord | undefined, name: string): void {
  if (record) {
    if (record.key !== null) writeRecord(outDir, { ...record, key: null });
  } else {
    removeRecord(outDir, name);
  }
}

export function removeRecord(outDir: string, name: string): boolean {
  try {
    unlinkSync(recordPath(outDir, name));
    return true;
  } catch {
    return false;
  }
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
