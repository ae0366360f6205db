// Bundles a TypeScript entry and every project file it imports into one ES module (esbuild, which tsx
// brings), cached under node_modules/.cache/harder and rebuilt only when an input changed. It lets
// `node harder.mjs` run the CLI without tsx, whose own start-up was most of a no-op run (tsx starts
// a second node process and loads its loader on two threads), while an edit under tasks/ still takes
// effect on the next run: every input is checked by its stamp (size, mtime, inode), and by content
// when a stamp moved (a checkout that rewrote a file unchanged costs a hash, not a rebuild).
// Plain JavaScript: it runs before anything can load TypeScript.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const FORMAT = 1;

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

function stamp(path) {
  const s = statSync(path);
  return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino };
}

function readManifest(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every input still has its recorded stamp (`stamps`) or content (`content`); false when one is gone. */
function inputsMatch(manifest, by) {
  try {
    return manifest.inputs.every((input) => {
      if (by === 'content') return sha256(input.path) === input.sha256;
      const now = stamp(input.path);
      return now.size === input.size && now.mtimeMs === input.mtimeMs && now.ino === input.ino;
    });
  } catch {
    return false;
  }
}

/** esbuild keeps `import.meta.url` as the bundle's URL: give each file its own, as if it were loaded alone. */
const ownFileUrls = {
  name: 'own-file-urls',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};

/**
 * The path of an up-to-date bundle of `entry` (an absolute or cwd-relative .ts file) in `cacheDir`.
 * Packages stay imports (resolved from node_modules as before); project files are inlined.
 */
export async function cachedBundle(entry, { cacheDir }) {
  const source = resolve(entry);
  const id = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const out = join(cacheDir, `${basename(source).replace(/\.[cm]?ts$/, '')}-${id}.mjs`);
  const manifestPath = `${out}.json`;
  const manifest = readManifest(manifestPath);
  const usable = manifest && manifest.format === FORMAT && manifest.node === process.version && existsSync(out);
  if (usable && inputsMatch(manifest, 'stamps')) return out;
  if (usable && inputsMatch(manifest, 'content')) {
    writeAtomic(manifestPath, JSON.stringify({ ...manifest, inputs: manifest.inputs.map((i) => ({ ...i, ...stamp(i.path) })) }));
    return out;
  }
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [source],
    absWorkingDir: dirname(source),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [ownFileUrls],
  });
  const inputs = Object.keys(result.metafile.inputs).map((path) => {
    const abs = resolve(dirname(source), path);
    return { path: abs, ...stamp(abs), sha256: sha256(abs) };
  });
  mkdirSync(cacheDir, { recursive: true });
  writeAtomic(out, result.outputFiles[0].text);
  // The manifest last: a bundle without its manifest is rebuilt.
  writeAtomic(manifestPath, JSON.stringify({ format: FORMAT, node: process.version, esbuild: esbuild.version, inputs }));
  return out;
}

function writeAtomic(path, text) {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}
