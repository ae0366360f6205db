// Writing PKI material safely: private directories, owner-only modes, and all-or-nothing replacement.

import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

let counter = 0;

/** Creates the directory (and parents) and sets it to `mode` even if it already existed. */
export async function ensurePrivateDir(dir: string, mode = 0o700): Promise<void> {
  // Parents get the default mode: only the leaf directory is private (output/ is shared with other steps).
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(dir, { recursive: true, mode });
  await chmod(dir, mode);
}

/** Reads a file, or returns undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Replaces several files together: every new content is written and fsynced to a temp sibling first
 * (created with `mode`, so a key is never world-readable even for an instant), and only then renamed
 * over the originals. A failure before the renames leaves every old file untouched.
 */
export async function replaceFiles(files: { path: string; data: string; mode: number }[]): Promise<void> {
  const temps: { temp: string; path: string }[] = [];
  try {
    for (const file of files) {
      await ensurePrivateDir(dirname(file.path));
      const temp = `${file.path}.${process.pid}.${counter++}.tmp`;
      temps.push({ temp, path: file.path });
      const handle = await open(temp, 'wx', file.mode);
      try {
        await handle.writeFile(file.data);
        await handle.chmod(file.mode);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  } catch (error) {
    await Promise.all(temps.map(({ temp }) => rm(temp, { force: true })));
    throw error;
  }
  for (const { temp, path } of temps) await rename(temp, path);
}
