// The go source's Kubernetes build, old way against new, side by side in one run:
//   separate: one `go build` per binary, one after another (how the six bin:* targets built until the
//             Kubernetes binaries were built together);
//   one:      one `go build` of all six (bin:kubernetes now): each shared package compiled once, and the
//             links overlap each other and the last compiles.
// For each: wall time and the peak summed RSS of the go processes (bench/peak-rss.ts), against the
// goal of a peak under 4 GiB.
//
// warm (always): the Go build cache holds every package, so this is compile-cache checks plus six links.
// cold (BENCH_COLD=name,name… or BENCH_COLD=all): each way starts from its own empty GOCACHE and builds
//   those binaries (all six take ~15 min per way on 2 cores; a subset shows the same effect sooner).
//
// Binaries go to a scratch HARDER_CACHE, never to ~/.cache/harder/bin, so runs using the real cache are
// not disturbed; the module cache is shared (HARDER_GOMODCACHE), the warm build cache too (HARDER_GOCACHE).
// BENCH_RUNS (default 1) warm repetitions, alternating which way goes first; medians are printed.

import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachePath } from '../lib/cache-root.ts';
import { buildGoBinaries, kubernetesGoRecipe, KUBERNETES_BINARIES } from '../tasks/binaries/index.ts';
import { defaultConfig } from '../tasks/config/config.ts';
import { withPeakRss } from './peak-rss.ts';

const runs = Number(process.env.BENCH_RUNS ?? 1);
const cold = process.env.BENCH_COLD === 'all' ? [...KUBERNETES_BINARIES] : (process.env.BENCH_COLD ?? '').split(',').filter(Boolean);
const verbose = Boolean(process.env.BENCH_VERBOSE);
const GIB = 1024 ** 3;
const PEAK_GOAL = 4 * GIB;

// Shared Go caches from the real cache root, resolved before HARDER_CACHE points elsewhere.
const sharedModCache = process.env.HARDER_GOMODCACHE ?? cachePath('go', 'mod');
const sharedBuildCache = process.env.HARDER_GOCACHE ?? cachePath('go', 'build');
const scratch = mkdtempSync(join(tmpdir(), 'harder-bench-binaries-'));
process.env.HARDER_CACHE = scratch;
process.env.HARDER_GOMODCACHE = sharedModCache;

const signal = new AbortController().signal;
const log = (line: string) => {
  if (verbose) console.error(`  ${line}`);
};
const recipe = await kubernetesGoRecipe(defaultConfig.kubernetesVersion, signal);

type Figure = { seconds: number; peakBytes: number };

/** Builds `names` one way, from nothing in the scratch binary cache. */
async function measure(way: 'separate' | 'one', names: string[]): Promise<Figure> {
  await rm(join(scratch, 'bin'), { recursive: true, force: true });
  const packages = Object.fromEntries(names.map((name) => [name, recipe.packages[name]!]));
  const started = performance.now();
  const { peakBytes } = await withPeakRss(async () => {
    if (way === 'one') await buildGoBinaries({ ...recipe, packages, signal, log });
    else for (const [name, pkg] of Object.entries(packages)) await buildGoBinaries({ ...recipe, packages: { [name]: pkg }, signal, log });
  });
  return { seconds: (performance.now() - started) / 1000, peakBytes };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const gib = (bytes: number) => `${(bytes / GIB).toFixed(2)} GiB`;
const verdict = (bytes: number) => (bytes < PEAK_GOAL ? 'met' : 'NOT met');

function report(title: string, figures: Record<'separate' | 'one', Figure[]>): void {
  const sec = (way: 'separate' | 'one') => median(figures[way].map((f) => f.seconds));
  const peak = (way: 'separate' | 'one') => Math.max(...figures[way].map((f) => f.peakBytes));
  console.log(title);
  console.log(`  ${'way'.padEnd(34)}${'wall'.padStart(9)}${'peak RSS'.padStart(12)}   goal: peak < 4 GiB`);
  for (const way of ['separate', 'one'] as const) {
    const label = way === 'one' ? 'one go build of all (new)' : 'one go build per binary (old)';
    console.log(`  ${label.padEnd(34)}${`${sec(way).toFixed(1)} s`.padStart(9)}${gib(peak(way)).padStart(12)}   ${verdict(peak(way))}`);
  }
  console.log(`  new/old wall: ${(sec('one') / sec('separate')).toFixed(2)}×`);
}

try {
  process.env.HARDER_GOCACHE = sharedBuildCache;
  // Untimed: the scratch wrapper module is tidied (modules from the shared cache) and the build cache is warm.
  await measure('one', [...KUBERNETES_BINARIES]);
  const warm: Record<'separate' | 'one', Figure[]> = { separate: [], one: [] };
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? (['separate', 'one'] as const) : (['one', 'separate'] as const);
    for (const way of order) warm[way].push(await measure(way, [...KUBERNETES_BINARIES]));
  }
  report(`Kubernetes ${recipe.version}, all six binaries, warm Go build cache (compile checks + links), median of ${runs}`, warm);

  if (cold.length) {
    const figures: Record<'separate' | 'one', Figure[]> = { separate: [], one: [] };
    for (const way of ['separate', 'one'] as const) {
      const gocache = join(scratch, `gocache-${way}`);
      process.env.HARDER_GOCACHE = gocache;
      figures[way].push(await measure(way, cold));
      await rm(gocache, { recursive: true, force: true });
    }
    report(`Kubernetes ${recipe.version}, ${cold.join(', ')}, cold: each way from an empty GOCACHE (modules cached)`, figures);
  }
  console.log('(2 cores, shared with other work: a loaded machine; compare the two ways within one run)');
} finally {
  await rm(scratch, { recursive: true, force: true });
}
