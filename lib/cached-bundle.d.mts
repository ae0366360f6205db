/** See cached-bundle.mjs: the path of an up-to-date single-file bundle of `entry` in `cacheDir`. */
export function cachedBundle(entry: string, options: { cacheDir: string }): Promise<string>;
