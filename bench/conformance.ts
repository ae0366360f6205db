// Conformance benchmark through the real CLI: the cost of building e2e.test (with ginkgo and agnhost) and
// the stand-in test images, warm and (BENCH_COLD=1) cold, then the whole upstream [Conformance] suite
// against a fresh 1 control-plane + 2 worker cluster (parallel, then [Serial]), printed as a table.
// Own cluster (BENCH_CLUSTER, default harder-bench-conf; BENCH_SUBNET, default 10.250.0.0/24) in a
// scratch root; removed at the end. Run: npx tsx bench/conformance.ts   (BENCH_PROCS: ginkgo processes, default 4)
//
// Cold e2e.test: an empty Go build cache (HARDER_GOCACHE in a temp dir; the module cache is kept, so no
// download is timed). Warm: the cached binaries removed, the build cache kept (compile nothing, link).
// Cold images: the images removed first (so every layer is rebuilt, apt included); warm: rebuilt with --force
// on Docker's layer cache.

import { execa } from 'execa';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { E2E_IMAGES } from '../tasks/conformance/images.ts';
import { minutes, type ConformanceSummary } from '../tasks/conformance/report.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLUSTER = process.env.BENCH_CLUSTER ?? 'harder-bench-conf';
const base = { clusterName: CLUSTER, nodeSubnet: process.env.BENCH_SUBNET ?? '10.250.0.0/24', binarySource: 'go' };
const cache = process.env.HARDER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/harder');

const root = mkdtempSync(join(tmpdir(), 'harder-bench-conf-'));
for (const entry of readdirSync(repo)) if (!['output', 'tasks.ts', '.git'].includes(entry)) symlinkSync(join(repo, entry), join(root, entry));
copyFileSync(join(repo, 'tasks.ts'), join(root, 'tasks.ts'));
const configFile = join(root, 'bench-config.json');
writeFileSync(configFile, JSON.stringify(base));

async function cli(args: string[], env: Record<string, string> = {}, allowFailure = false): Promise<{ s: number; output: string; code: number }> {
  const started = performance.now();
  // The CLI's own flags go before a `--`: what follows it is the conformance command's pass-through.
  const split = args.indexOf('--');
  const own = ['--config', configFile, '--plain'];
  const argv = split === -1 ? [...args, ...own] : [...args.slice(0, split), ...own, ...args.slice(split)];
  const res = await execa('npx', ['tsx', 'tasks.ts', ...argv], { cwd: root, reject: false, all: true, env });
  const output = String(res.all ?? '');
  if (res.exitCode !== 0 && !allowFailure) throw new Error(`tasks.ts ${args.join(' ')} exited ${res.exitCode}:\n${output.slice(-3000)}`);
  return { s: (performance.now() - started) / 1000, output, code: res.exitCode ?? -1 };
}

const imageTargets = Object.values(E2E_IMAGES).map((i) => `image:e2e-${i.name}`);
const rows: [string, string][] = [];
try {
  process.stdout.write(`bench: cluster ${CLUSTER} in ${root}\n`);
  await cli(['cluster']);
  const e2eFiles = ['e2e.test', 'ginkgo', 'agnhost'].map((n) => join(cache, 'bin/v1.34.4/go', n));
  const dropBinaries = () => e2eFiles.forEach((f) => [f, `${f}.json`].forEach((p) => rmSync(p, { force: true })));
  if (process.env.BENCH_COLD) {
    const goCache = mkdtempSync(join(tmpdir(), 'harder-bench-gocache-'));
    dropBinaries();
    rows.push(['e2e.test + ginkgo + agnhost, cold build cache', minutes((await cli(['bin:e2e.test', 'bin:ginkgo', 'bin:agnhost', '--force'], { HARDER_GOCACHE: goCache })).s)]);
    rmSync(goCache, { recursive: true, force: true });
  }
  dropBinaries();
  rows.push(['e2e.test + ginkgo + agnhost, warm build cache', minutes((await cli(['bin:e2e.test', 'bin:ginkgo', 'bin:agnhost', '--force'])).s)]);
  if (process.env.BENCH_COLD) {
    await cli(imageTargets.map((t) => `clean:${t}`));
    rows.push([`the ${imageTargets.length} test images, nothing cached`, minutes((await cli(imageTargets)).s)]);
  }
  rows.push([`the ${imageTargets.length} test images again (--force, Docker's layer cache)`, minutes((await cli([...imageTargets, '--force'])).s)]);
  const procs = process.env.BENCH_PROCS ?? '4';
  const run = await cli(['conformance', '--', `--procs=${procs}`], {}, true);
  const dir = /report: (\S+)/.exec(run.output)?.[1];
  if (!dir) throw new Error(`no report directory in the conformance output:\n${run.output.slice(-3000)}`);
  const summary = JSON.parse(readFileSync(join(root, dir, 'summary.json'), 'utf8')) as ConformanceSummary;
  const table = [
    ['tests run', String(summary.passed + summary.failed)],
    ['passed', String(summary.passed)],
    ['failed', String(summary.failed)],
    ['skipped', String(summary.skipped)],
    ...summary.parts.map((p) => [`wall time, ${p.part}${p.part === 'parallel' ? ` (${procs} processes)` : ''}`, `${minutes(p.seconds)} (${p.passed + p.failed} tests)`] as [string, string]),
    ['wall time, whole run (images loaded, suite)', minutes(run.s)],
  ] as [string, string][];
  rows.push(...table);
  process.stdout.write(`\n| measure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`);
  if (summary.failures.length) process.stdout.write(`\nfailures:\n${summary.failures.map((f) => `- ${f.name}\n    ${f.reason.join('\n    ')}`).join('\n')}\n`);
} finally {
  await cli(['clean:nodes', '--yes'], {}, true);
  rmSync(root, { recursive: true, force: true });
}
