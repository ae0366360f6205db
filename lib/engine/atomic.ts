// Atomic file writes: write a temp sibling, then rename over the target. A crash (even SIGKILL) leaves
// either the old file or the new one, never a torn one; stray temp files are never read.

import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

let counter = 0;

/** Writes `data` to `file` atomically, creating the directory if needed. */
export function writeFileAtomic(file: string, data: string, mode?: number): void {
  const temp = `${file}.${process.pid}.${counter++}.tmp`;
  try {
    writeFileSync(temp, data, mode === undefined ? undefined : { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(temp, data, mode === undefined ? undefined : { mode });
  }
  renameSync(temp, file);
}
