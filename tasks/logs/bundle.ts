// One log bundle: a new folder `<outDir>/logs/<time>/` with every item, SUMMARY.txt (what is in it) and
// MISSING.txt (what could not be collected, and why), then `<time>.tar.gz` beside it. Writes only there.

import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { tarGz } from './archive.ts';
import { collect, type Collection, type Item, type MissingItem } from './collect.ts';

export type BundleOptions = {
  outDir: string;
  jobs: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The bundle's time (its folder name); default now. */
  now?: Date;
  /** What the bundle is of, for SUMMARY.txt's first line. */
  title: string;
};

export type Bundle = { dir: string; tarball: string; tarballBytes: number; bytes: number; collection: Collection };

/** `2026-12-02T025012Z`: sortable, and no `:` (GNU tar reads `host:file` as a remote archive). */
export function bundleName(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '');
}

/** A folder of its own: a second bundle in the same second gets `-2`, never another's files. */
async function freshDir(parent: string, name: string): Promise<string> {
  await mkdir(parent, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(parent, n === 1 ? name : `${name}-${n}`);
    try {
      await mkdir(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || n > 100) throw error;
    }
  }
}

const kb = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} kB`);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** MISSING.txt: every item not collected, with why; what failed only because another did names it. */
export function missingText(missing: readonly MissingItem[]): string {
  if (!missing.length) return 'Everything was collected.\n';
  const lines = [`${missing.length} item(s) could not be collected:`, ''];
  for (const m of missing) lines.push(`${m.path}  (${m.what})`, `    ${m.reason}`);
  return `${lines.join('\n')}\n`;
}

/** The printed lines for what is missing: one per failure that has its own reason, with how many items needed it. */
export function missingLines(missing: readonly MissingItem[]): string[] {
  const dependents = new Map<string, number>();
  for (const m of missing) if (m.because) dependents.set(m.because, (dependents.get(m.because) ?? 0) + 1);
  return missing
    .filter((m) => !m.because)
    .map((m) => {
      const n = dependents.get(m.what) ?? 0;
      return `${m.what}: ${m.reason}${n ? ` (and the ${n} item${n === 1 ? '' : 's'} that need it)` : ''}`;
    });
}

/** Collects `items` into a new bundle folder and archives it. */
export async function writeBundle(items: Item[], opts: BundleOptions): Promise<Bundle> {
  const now = opts.now ?? new Date();
  const dir = await freshDir(join(opts.outDir, 'logs'), bundleName(now));
  const collection = await collect(items, { dir, jobs: opts.jobs, timeoutMs: opts.timeoutMs, signal: opts.signal });
  const bytes = collection.collected.reduce((sum, c) => sum + c.bytes, 0);
  const summary = [
    opts.title,
    `collected ${now.toISOString()} in ${seconds(collection.ms)}: ${collection.collected.length} items (${kb(bytes)}), ${collection.missing.length} not collected (MISSING.txt)`,
    '',
    ...collection.collected.map((c) => `${c.path}  ${c.bytes} bytes, ${Math.round(c.ms)} ms  (${c.what})`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'SUMMARY.txt'), summary);
  await writeFile(join(dir, 'MISSING.txt'), missingText(collection.missing));
  const archive = await tarGz(dir);
  return { dir, tarball: archive.path, tarballBytes: archive.bytes, bytes, collection };
}

/** What the command prints: where the bundle is, its size, how many items, and what could not be collected. */
export function bundleReport(bundle: Bundle, cwd: string): string {
  const { collected, missing } = bundle.collection;
  const show = (path: string) => relative(cwd, path) || path;
  const lines = [
    `logs: ${show(bundle.dir)}/ — ${collected.length} items (${kb(bundle.bytes)}) in ${seconds(bundle.collection.ms)}, ${missing.length} could not be collected`,
    `  archive: ${show(bundle.tarball)} (${kb(bundle.tarballBytes)})`,
  ];
  if (missing.length) {
    lines.push(`  not collected (every item and why: ${show(join(bundle.dir, 'MISSING.txt'))}):`);
    for (const line of missingLines(missing)) lines.push(`    ${line}`);
  }
  return `${lines.join('\n')}\n`;
}
