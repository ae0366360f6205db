// Engine benchmark: a 10,000-target graph (chains with fan-in) built by the engine, by ninja and by
// make, each target writing one trivial file. Prints, from one run: no-op time of all three (median of
// RUNS whole-process runs; the engine both under tsx and as the cached bundle plain node runs, as
// harder.mjs starts the CLI) and the engine's full-build scheduling overhead per target (in-process,
// trivial builds, no files), each goal beside its figure. Usage: npx tsx bench/engine.ts [chains] [length]

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { journalPath, runBuild, StateStore } from '../lib/engine/index.ts';
import { benchNodes, benchTargets, type BenchNode } from './engine-fixture.ts';
import { cachedBundle } from '../lib/cached-bundle.mjs';

const RUNS = 9;
const chains = Number(process.argv[2] ?? 100);
const length = Number(process.argv[3] ?? 100);
const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const nodes = benchNodes(chains, length);
const ends = Array.from({ length: chains }, (_, c) => `out/c${c}_${length - 1}.txt`);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 0)} ms`;

function setup(dir: string): void {
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'out'), { recursive: true });
  for (const node of nodes) writeFileSync(join(dir, node.src), node.name);
}

function makefile(): string {
  const lines = ['all: ' + ends.join(' '), '.PHONY: all', ''];
  for (const n of nodes) lines.push(`${n.out}: ${[n.src, ...n.deps.map((d) => `out/${d}.txt`)].join(' ')}`, '\ttouch $@');
  return lines.join('\n') + '\n';
}

function ninjafile(): string {
  const lines = ['rule touch', '  command = touch $out', ''];
  for (const n of nodes) lines.push(`build ${n.out}: touch ${n.src}${n.deps.length ? ` | ${n.deps.map((d) => `out/${d}.txt`).join(' ')}` : ''}`);
  lines.push(`build all: phony ${ends.join(' ')}`, 'default all');
  return lines.join('\n') + '\n';
}

/** Wall time of a whole process, in ms; throws if it fails. */
function timed(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): { ms: number; stdout: string } {
  const started = performance.now();
  const result = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  const elapsed = performance.now() - started;
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${result.status}):\n${result.stderr}`);
  return { ms: elapsed, stdout: result.stdout };
}

const base = mkdtempSync(join(tmpdir(), 'harder-bench-'));
try {
  process.stdout.write(`graph: ${nodes.length} targets (${chains} chains of ${length}, fan-in every 10th), ${RUNS} runs each, medians\n`);
  const makeDir = join(base, 'make');
  const ninjaDir = join(base, 'ninja');
  const engineDir = join(base, 'engine');
  for (const dir of [makeDir, ninjaDir, engineDir]) setup(dir);
  writeFileSync(join(makeDir, 'Makefile'), makefile());
  writeFileSync(join(ninjaDir, 'build.ninja'), ninjafile());

  const fullMake = timed('make', ['-s', '-j2', 'all'], makeDir).ms;
  const fullNinja = timed('ninja', ['-j2'], ninjaDir).ms;
  const engineEnv = { BENCH_ROOT: engineDir, BENCH_CHAINS: String(chains), BENCH_LENGTH: String(length), CI: '1' };
  const engineArgs = ['--import', 'tsx', join(repo, 'bench/engine-fixture.ts'), 'all'];
  const fullEngine = timed(process.execPath, engineArgs, repo, engineEnv);
  const bundledArgs = [await cachedBundle(join(repo, 'bench/engine-fixture.ts'), { cacheDir: join(repo, 'node_modules', '.cache', 'harder') }), 'all'];
  if (!fullEngine.stdout.includes(`${nodes.length} built`)) throw new Error(`engine full build:\n${fullEngine.stdout.slice(-300)}`);

  // No-op runs are interleaved (make, ninja, engine, in-process, bare start-up, then again) so a
  // change in machine load during the benchmark affects every column alike.
  const times = { make: [] as number[], ninja: [] as number[], engine: [] as number[], bundled: [] as number[], inProcess: [] as number[], startup: [] as number[] };
  const targets = benchTargets(nodes);
  for (let i = 0; i < RUNS; i++) {
    const m = timed('make', ['-s', '-j2', 'all'], makeDir);
    if (m.stdout.includes('touch')) throw new Error('make: the no-op run did work');
    times.make.push(m.ms);
    const n = timed('ninja', ['-j2'], ninjaDir);
    if (!n.stdout.includes('no work to do')) throw new Error(`ninja: the no-op run did work:\n${n.stdout.slice(0, 300)}`);
    times.ninja.push(n.ms);
    const e = timed(process.execPath, engineArgs, repo, engineEnv);
    if (!e.stdout.startsWith(`0 built, ${nodes.length} up to date`)) throw new Error(`engine: the no-op run did work:\n${e.stdout.slice(0, 300)}`);
    times.engine.push(e.ms);
    const b = timed(process.execPath, bundledArgs, repo, engineEnv);
    if (!b.stdout.startsWith(`0 built, ${nodes.length} up to date`)) throw new Error(`engine (bundled): the no-op run did work:\n${b.stdout.slice(0, 300)}`);
    times.bundled.push(b.ms);
    // The same no-op inside this process (no node/tsx start-up, warm JIT): what the engine itself costs.
    const started = performance.now();
    const report = await runBuild({ targets, requested: ['all'], root: engineDir });
    times.inProcess.push(performance.now() - started);
    if (Object.values(report.entries).some((entry) => entry.outcome !== 'up-to-date')) throw new Error('in-process no-op did work');
    times.startup.push(timed(process.execPath, ['--import', 'tsx', '-e', ''], repo).ms);
  }
  const noopMake = median(times.make);
  const noopNinja = median(times.ninja);
  const noopEngine = median(times.engine);
  const noopBundled = median(times.bundled);
  const inProcess = times.inProcess;
  const startup = median(times.startup);

  // Scheduling overhead: full builds of trivial in-process targets (no files), fresh state each time.
  const overhead: number[] = [];
  const trivial = benchTargets(nodes, false);
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(join(base, 'trivial-'));
    const started = performance.now();
    const report = await runBuild({ targets: trivial, requested: ['all'], root: dir });
    overhead.push(performance.now() - started);
    if (!report.ok) throw new Error('trivial build failed');
  }
  const perTarget = (median(overhead) / nodes.length) * 1000;

  // State layout: the engine keeps one journal; the alternative is one small file per target
  // (the first design). Same records, read and parsed both ways, in this process.
  const journal = readFileSync(journalPath(join(engineDir, 'output')), 'utf8').trim().split('\n').slice(1);
  const filesDir = join(base, 'record-files');
  mkdirSync(filesDir);
  const names: string[] = [];
  const loaded = new StateStore(join(engineDir, 'output'));
  for (const line of journal) {
    const name = JSON.parse(line.slice(0, line.indexOf('\t'))) as string;
    names.push(name);
    const read = loaded.get(name);
    if (read.kind !== 'ok') throw new Error(`journal lost ${name}`);
    // What an up-to-date check reads, one JSON file per target.
    const { key, result, resultHash, outputs } = read.record;
    writeFileSync(join(filesDir, `${Buffer.from(name).toString('hex')}.json`), JSON.stringify({ key, result, resultHash, outputs }));
  }
  const perFile: number[] = [];
  const oneJournal: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let started = performance.now();
    for (const name of names) JSON.parse(readFileSync(join(filesDir, `${Buffer.from(name).toString('hex')}.json`), 'utf8'));
    perFile.push(performance.now() - started);
    started = performance.now();
    const store = new StateStore(join(engineDir, 'output'));
    for (const name of names) if (store.get(name).kind !== 'ok') throw new Error(`journal lost ${name}`);
    oneJournal.push(performance.now() - started);
  }

  const rows: [string, string, string, string][] = [
    ['', 'full build', 'no-op (median)', 'no-op vs engine'],
    ['make -j2', ms(fullMake), ms(noopMake), `${(noopMake / noopEngine).toFixed(1)}× engine`],
    ['ninja -j2', ms(fullNinja), ms(noopNinja), `engine is ${(noopEngine / noopNinja).toFixed(1)}×`],
    ['engine (whole process, tsx)', ms(fullEngine.ms), ms(noopEngine), '1.0×'],
    ['engine (whole process, bundle)', '', ms(noopBundled), `${(noopBundled / noopEngine).toFixed(2)}×`],
    ['engine (in-process)', '', ms(median(inProcess)), ''],
    ['node + tsx start-up', '', ms(startup), ''],
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) process.stdout.write(`| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |\n`);
  process.stdout.write(`\nengine scheduling overhead, full build of trivial in-process targets: ${ms(median(overhead))} for ${nodes.length} = ${perTarget.toFixed(1)} µs/target\n`);
  process.stdout.write(`state read for ${names.length} records: one file per target ${ms(median(perFile))}, one journal ${ms(median(oneJournal))}\n`);
  const goals: [string, string, boolean][] = [];
  for (const [style, noop] of [['tsx', noopEngine], ['bundle', noopBundled]] as const) {
    goals.push(
      [`engine (${style}) no-op within 5× ninja's`, `${(noop / noopNinja).toFixed(1)}× ninja`, noop <= 5 * noopNinja],
      [`engine (${style}) no-op ≥5× faster than make's`, `make is ${(noopMake / noop).toFixed(1)}×`, noopMake >= 5 * noop],
      [`engine (${style}) no-op under 1 s`, ms(noop), noop < 1000],
    );
  }
  for (const [goal, figure, met] of goals) process.stdout.write(`${met ? '✓ met    ' : '✗ NOT met'} ${goal}: ${figure}\n`);
} finally {
  rmSync(base, { recursive: true, force: true });
}
