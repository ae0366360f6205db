// Start-up of the CLI, per way of invoking it, side by side in one run (medians of BENCH_RUNS, default 7,
// interleaved so a change in machine load hits every column alike):
//   npx tsx tasks.ts        npm's exec, tsx's CLI, then the node process running the TypeScript
//   node --import tsx ...   the node process with tsx's loader
//   node harder.mjs         plain node on the cached bundle (lib/cached-bundle.mjs)
// for: `--help`; `certs`, a no-op on the real graph that needs no Docker (one untimed run first);
// `cluster --dry-run` (the whole graph decided, every probe run); and, with BENCH_CLUSTER=1, `cluster`
// itself on this checkout's live cluster (a no-op only when it is up). Baselines: node and tsx alone.
// Also the modules each loads (bench/module-count.mjs) and each figure beside its goal.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.env.BENCH_RUNS ?? 7);
const repo = dirname(dirname(fileURLToPath(import.meta.url)));
const node = process.execPath;

const STYLES = {
  'npx tsx tasks.ts': ['npx', 'tsx', 'tasks.ts'],
  'node --import tsx tasks.ts': [node, '--import', 'tsx', 'tasks.ts'],
  'node harder.mjs': [node, 'harder.mjs'],
} as const;
type Style = keyof typeof STYLES;

const COMMANDS: { label: string; args: string[]; goalMs?: number; mustSay?: RegExp }[] = [
  { label: '--help', args: ['--help'], goalMs: 300 },
  { label: 'certs (no-op)', args: ['certs', '--plain'], mustSay: /^0 built/m },
  { label: 'cluster --dry-run', args: ['cluster', '--dry-run', '--plain'] },
  ...(process.env.BENCH_CLUSTER ? [{ label: 'cluster (no-op)', args: ['cluster', '--plain'], goalMs: 500, mustSay: /^0 built/m }] : []),
];

function run(argv: readonly string[], env: Record<string, string> = {}): { ms: number; stdout: string } {
  const started = performance.now();
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd: repo, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = performance.now() - started;
  if (result.status !== 0 && !argv.includes('--dry-run')) throw new Error(`${argv.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return { ms, stdout: result.stdout };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Project files and packages' files a way of starting loads for these arguments. */
function moduleCount(style: Style, args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'harder-modules-'));
  const list = join(dir, 'modules.txt');
  try {
    const argv = [...STYLES[style]];
    // The counting hooks go first on the node command line (for npx, through NODE_OPTIONS).
    const hook = `--import=${join(repo, 'bench/module-count.mjs')}`;
    if (argv[0] === node) argv.splice(1, 0, hook);
    run([...argv, ...args], { HARDER_MODULE_LIST: list, ...(argv[0] === 'npx' ? { NODE_OPTIONS: hook } : {}) });
    const urls = [...new Set(readFileSync(list, 'utf8').split('\n').filter((u) => u.startsWith('file:')))];
    const packages = urls.filter((u) => u.includes('/node_modules/') && !u.includes('/node_modules/.cache/')).length;
    return `${urls.length - packages} project + ${packages} package files`;
  } catch (error) {
    return `(not counted: ${(error as Error).message.split('\n')[0]})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Untimed: the bundle is built, tsx's cache filled, and certs exist so that `certs` is a no-op.
for (const style of Object.keys(STYLES) as Style[]) run([...STYLES[style], '--help']);
run([...STYLES['node harder.mjs'], 'certs', '--plain']);

const baselines = { 'node -e ""': [node, '-e', ''], 'node --import tsx -e ""': [node, '--import', 'tsx', '-e', ''], 'npx tsx -e ""': ['npx', 'tsx', '-e', ''] } as const;
const times = new Map<string, number[]>();
const push = (key: string, ms: number) => times.set(key, [...(times.get(key) ?? []), ms]);
for (let i = 0; i < runs; i++) {
  for (const [name, argv] of Object.entries(baselines)) push(name, run(argv).ms);
  for (const command of COMMANDS) {
    for (const style of Object.keys(STYLES) as Style[]) {
      const result = run([...STYLES[style], ...command.args]);
      if (command.mustSay && !command.mustSay.test(result.stdout)) throw new Error(`${style} ${command.args.join(' ')} did work:\n${result.stdout.slice(-400)}`);
      push(`${command.label}|${style}`, result.ms);
    }
  }
}

const styles = Object.keys(STYLES) as Style[];
const width = 30;
console.log(`CLI start-up, whole process, median of ${runs} (ms), interleaved; 2 cores shared with other work`);
console.log(`${''.padEnd(20)}${styles.map((s) => s.padStart(width)).join('')}   goal`);
for (const command of COMMANDS) {
  const cells = styles.map((style) => median(times.get(`${command.label}|${style}`)!));
  const goal = command.goalMs ? `< ${command.goalMs} ms: ${cells.map((ms, i) => `${styles[i]} ${ms < command.goalMs! ? 'met' : 'NOT met'}`).join(', ')}` : '';
  console.log(`${command.label.padEnd(20)}${cells.map((ms) => `${ms.toFixed(0)} ms`.padStart(width)).join('')}   ${goal}`);
}
for (const [name] of Object.entries(baselines)) console.log(`baseline ${name}: ${median(times.get(name)!).toFixed(0)} ms`);
console.log('modules loaded for --help / certs:');
for (const style of styles) console.log(`  ${style.padEnd(28)} ${moduleCount(style, ['--help'])} / ${moduleCount(style, ['certs', '--plain'])}`);
