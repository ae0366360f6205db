// Imports a TypeScript (or JavaScript) module by path, whether or not this process has a TypeScript
// loader: under tsx the import just works; in the CLI started by harder.mjs (plain node) a .ts file is
// bundled into the same cache as the CLI (lib/cached-bundle.mjs) and that bundle is imported.

import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cacheDir = join(fileURLToPath(new URL('..', import.meta.url)), 'node_modules', '.cache', 'harder');

export async function importModule(path: string): Promise<unknown> {
  try {
    return await import(pathToFileURL(path).href);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    const { cachedBundle } = await import('./cached-bundle.mjs');
    return import(pathToFileURL(await cachedBundle(path, { cacheDir })).href);
  }
}
