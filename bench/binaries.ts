// Times the go binary source with a warm Go build cache: each Kubernetes binary rebuilt from the module
// (its cached file removed first) and then reused from the binary cache, median of BENCH_RUNS runs.
// Works on the real cache (~/.cache/harder or HARDER_CACHE) and leaves every binary built in it.
// Run under `/usr/bin/time -v npx tsx bench/binaries.ts` for the peak memory of the go processes.

import { rm } from 'node:fs/promises';
import { binariesTargets, cachedBinaryPath, KUBERNETES_BINARIES, type BinaryResult } from '../tasks/binaries/index.ts';
import { defaultConfig } from '../tasks/config/config.ts';
import type { AnyTarget } from '../lib/engine/target.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const version = defaultConfig.kubernetesVersion;
const targets = binariesTargets({ ...defaultConfig, binarySource: 'go' });
const byName = new Map<string, AnyTarget>(targets.all.map((t) => [t.name, t]));

async function build(name: string): Promise<{ ms: number; result: BinaryResult }> {
  const t = byName.get(`bin:${name}`)!;
  const started = performance.now();
  const result = (await t.build!({
    deps: {},
    signal: new AbortController().signal,
    log: (line: string) => {
      if (process.env.BENCH_VERBOSE) console.error(`  [${name}] ${line}`);
    },
    root: process.cwd(),
    outDir: 'output',
    previous: undefined,
    reason: 'bench',
  })) as BinaryResult;
  return { ms: performance.now() - started, result };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

// One untimed pass so the wrapper module is tidied and every package is in the build cache.
for (const name of KUBERNETES_BINARIES) await build(name);

const rebuild: Record<string, number[]> = {};
const reuse: Record<string, number[]> = {};
const totals: number[] = [];
for (let run = 0; run < runs; run++) {
  let total = 0;
  for (const name of KUBERNETES_BINARIES) {
    await rm(cachedBinaryPath(name, version, 'go'), { force: true });
    const warm = await build(name);
    total += warm.ms;
    (rebuild[name] ??= []).push(warm.ms);
    (reuse[name] ??= []).push((await build(name)).ms);
  }
  totals.push(total);
}

console.log(`go source, Kubernetes ${version}, warm Go build cache, median of ${runs} runs (seconds)`);
console.log(`${'binary'.padEnd(26)}${'rebuild'.padStart(10)}${'reuse'.padStart(10)}`);
for (const name of KUBERNETES_BINARIES) {
  console.log(`${name.padEnd(26)}${(median(rebuild[name]!) / 1000).toFixed(1).padStart(10)}${(median(reuse[name]!) / 1000).toFixed(2).padStart(10)}`);
}
console.log(`${'all six'.padEnd(26)}${(median(totals) / 1000).toFixed(1).padStart(10)}`);
