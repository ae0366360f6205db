#!/usr/bin/env node
// `node harder.mjs <target…> [flags]`: the same CLI as `npx tsx tasks.ts`, started without tsx. tasks.ts
// and every project file it imports run from one cached bundle (lib/cached-bundle.mjs), rebuilt when one
// of them changed, so an edit takes effect on the next run. A .ts spec file (harder.config.ts) is
// bundled the same way when it is loaded (lib/ts-import.ts).

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cachedBundle } from './lib/cached-bundle.mjs';

const root = dirname(fileURLToPath(import.meta.url));
const bundle = await cachedBundle(join(root, 'tasks.ts'), { cacheDir: join(root, 'node_modules', '.cache', 'harder') });
await import(pathToFileURL(bundle).href);
