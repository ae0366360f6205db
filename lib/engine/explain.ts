// Explanations: why a target is stale, as one line naming what changed (from → to) — ninja's -d explain.

import type { Json } from './target.ts';
import { stableStringify } from './hash.ts';
import type { Manifest } from './state.ts';

const MAX_SHOWN = 3;

/** A value shortened for one line. */
export function short(value: Json | undefined): string {
  if (value === undefined) return '(absent)';
  const text = typeof value === 'string' ? JSON.stringify(value) : stableStringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const shortHash = (hash: string | undefined): string => (hash ? hash.slice(0, 8) : '(absent)');

/** Every difference between the manifest of the last build and the current one, one phrase each. */
export function manifestChanges(before: Manifest, now: Manifest): string[] {
  const changes: string[] = [];
  if ((before.version ?? 0) !== now.version) changes.push(`recipe version changed: ${before.version ?? 0} → ${now.version}`);
  for (const key of union(before.values, now.values)) {
    const a = before.values?.[key];
    const b = now.values[key];
    if (a === undefined) changes.push(`value ${key} added: ${short(b)}`);
    else if (b === undefined) changes.push(`value ${key} removed (was ${short(a)})`);
    else {
      const diff = firstDifference(a, b, key);
      if (diff) changes.push(`value ${diff}`);
    }
  }
  for (const key of union(before.env, now.env)) {
    const a = before.env?.[key];
    const b = now.env[key];
    if (a !== b) changes.push(`env ${key} changed: ${a === undefined || a === null ? '(unset)' : JSON.stringify(a)} → ${b === undefined || b === null ? '(unset)' : JSON.stringify(b)}`);
  }
  for (const key of union(before.files, now.files)) {
    const a = before.files?.[key];
    const b = now.files[key];
    if (a === b) continue;
    if (a === undefined) changes.push(`input file ${key} added`);
    else if (b === undefined) changes.push(`input file ${key} removed`);
    else changes.push(`input file ${key} changed: ${shortHash(a)} → ${shortHash(b)}`);
  }
  for (const key of union(before.deps, now.deps)) {
    const a = before.deps?.[key];
    const b = now.deps[key];
    if (a === b) continue;
    const [aName] = (a ?? '').split('@');
    const [bName] = (b ?? '').split('@');
    if (a === undefined) changes.push(`new dependency ${bName}`);
    else if (b === undefined) changes.push(`dependency ${aName} removed`);
    else if (aName !== bName) changes.push(`dependency "${key}" now names ${bName} (was ${aName})`);
    else changes.push(`dependency ${bName} has a new result`);
  }
  if (stableStringify(before.outputs ?? []) !== stableStringify(now.outputs)) changes.push(`declared outputs changed: ${short(before.outputs ?? [])} → ${short(now.outputs)}`);
  return changes;
}

/** The changes as one line (the first few, then a count). */
export function explainChanges(before: Manifest, now: Manifest): string {
  const changes = manifestChanges(before, now);
  if (!changes.length) return 'key changed (name changed or state written by another engine)';
  const shown = changes.slice(0, MAX_SHOWN).join('; ');
  return changes.length > MAX_SHOWN ? `${shown} (+${changes.length - MAX_SHOWN} more)` : shown;
}

/**
 * Where two JSON values first differ, as `path: from → to`, descending into objects and arrays so a
 * long config value is explained by the field that changed (`nodes[3]: (absent) → {...}`).
 */
export function firstDifference(a: Json | undefined, b: Json | undefined, path: string): string | undefined {
  if (stableStringify(a ?? null) === stableStringify(b ?? null) && (a === undefined) === (b === undefined)) return undefined;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const diff = firstDifference(a[i], b[i], `${path}[${i}]`);
        if (diff) return diff;
      }
    } else {
      const ao = a as Record<string, Json>;
      const bo = b as Record<string, Json>;
      for (const key of union(ao, bo)) {
        const diff = firstDifference(ao[key], bo[key], `${path}.${key}`);
        if (diff) return diff;
      }
    }
  }
  return `${path} changed: ${short(a)} → ${short(b)}`;
}

function union(a: Record<string, unknown> | undefined, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a ?? {}), ...Object.keys(b)])].sort();
}
