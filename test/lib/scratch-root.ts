// A scratch project root for tests that drive the real CLI against their own cluster: tasks.ts is copied
// (its directory is the project root, so output/ lands in the scratch root), everything else is linked.

import { copyFileSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this test run belongs to. */
export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Makes a fresh temp dir named `<prefix>XXXXXX` that works as the project root; the caller removes it. */
export function scratchProjectRoot(prefix: string): string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  for (const entry of readdirSync(repo)) {
    if (entry === 'output' || entry === 'tasks.ts' || entry === '.git') continue;
    symlinkSync(join(repo, entry), join(root, entry));
  }
  copyFileSync(join(repo, 'tasks.ts'), join(root, 'tasks.ts'));
  return root;
}
