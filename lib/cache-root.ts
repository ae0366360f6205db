// Where long-lived build artefacts (downloads, Go caches, built binaries) live: outside the repo, so that
// cleaning a cluster or deleting output/ never throws away an hour of compiling.

import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The cache root: $HARDER_CACHE if set, else ~/.cache/harder. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const override = env.HARDER_CACHE;
  return override && override.length > 0 ? resolve(override) : join(homedir(), '.cache', 'harder');
}

/** A path under the cache root. */
export function cachePath(...parts: string[]): string {
  return join(cacheRoot(), ...parts);
}
