// A scratch project root for tests that drive the real CLI against their own cluster: tasks.ts is copied
// (its directory is the project root, so output/ lands in the scratch root), everything else is linked.

import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this test run belongs to. */
export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Makes a fresh temp dir named `<prefix>XXXXXX` that works as the project root; the caller removes it. */
export function scratchProjectRoot(prefix: string): string {
  return projectRootAt(mkdtempSync(join(tmpdir(), prefix)));
}

/**
 * `dir` as a project root, made or brought up to date: a long-lived one (a benchmark's cluster kept for
 * reruns) keeps its output/ and gets any new entry of the repository linked and tasks.ts copied afresh.
 */
export function projectRootAt(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const entry of readdirSync(repo)) {
    if (entry === 'output' || entry === 'tasks.ts' || entry === '.git' || lstatSync(join(dir, entry), { throwIfNoEntry: false })) continue;
    symlinkSync(join(repo, entry), join(dir, entry));
  }
  copyFileSync(join(repo, 'tasks.ts'), join(dir, 'tasks.ts'));
  return dir;
}
