// A small glob for declared input files: `*` and `?` within one path segment, `**` for any depth.
// Node 20 has no fs.glob; this covers what targets declare (csr/*.json, tasks/**/*.ts).

import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** True when the pattern has glob characters (otherwise it names exactly one file). */
export function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (const ch of segment) {
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Files (not directories) under `root` matching `pattern`, as sorted root-relative paths with `/`.
 * Dot-files and node_modules are matched only when named literally.
 */
export function expandGlob(root: string, pattern: string): string[] {
  const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
  const found = new Set<string>();
  const walk = (rel: string, index: number): void => {
    if (index === segments.length) return;
    const segment = segments[index]!;
    const last = index === segments.length - 1;
    let entries;
    try {
      entries = readdirSync(join(root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    if (segment === '**') {
      // `**` matches zero segments here...
      walk(rel, index + 1);
      // ...or descends one more directory and stays on `**`.
      for (const entry of entries) {
        if (entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules') walk(rel ? `${rel}/${entry.name}` : entry.name, index);
      }
      return;
    }
    const literal = !isGlob(segment);
    const re = literal ? undefined : segmentRegExp(segment);
    for (const entry of entries) {
      if (literal ? entry.name !== segment : !re!.test(entry.name) || entry.name.startsWith('.')) continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (last) {
        if (entry.isFile()) found.add(path);
      } else if (entry.isDirectory()) {
        walk(path, index + 1);
      }
    }
  };
  walk('', 0);
  return [...found].sort();
}
