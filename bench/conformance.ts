// Conformance benchmark through the real CLI: the whole upstream [Conformance] suite against this bench's own
// cluster, run by the project's `conformance` command (the parallel part, then [Serial], each its own
// invocation so a crash of one leaves the other's figures), held against the suite's own list of its tests
// (conformance.yaml: 424 in v1.34), then the cost of building e2e.test and the stand-in test images.
//
//   npx tsx bench/conformance.ts [--control-planes N] [--procs N] [--parallel-only | --serial-only | --no-suite] [--keep] [--cold-e2e] [--no-build-costs]
//
// The cluster: harder-t-conf (10.249.0.0/24, API on 127.0.0.1:7249, your kubeconfig untouched), in a
// project root of its own that outlives the run (/tmp/harder-t-conf-bench), so a later run, or a rerun of one
// test (`npx tsx tasks.ts --config <root>/bench-config.json conformance -- --focus …` in that root), reuses it.
// It is removed at the end unless it was already there or --keep is given.
//
// Every conformance.yaml test of a part is counted as passed, failed, skipped by tasks/conformance/skips.ts,
// skipped by the suite itself, or not run (the part crashed or stopped before it): a crash is never a pass.
// Build costs, measured after the suite, leave the shared caches and image tags alone:
// - e2e.test (with ginkgo, agnhost, sample-apiserver), warm: built into a scratch cache root on the shared Go
//   build cache (everything compiled: links only). Cold: the seconds its first build into the shared cache
//   recorded (and when), or, with --cold-e2e, measured on an empty Go build cache (the module cache is kept,
//   so no download is timed; an hour or more on 2 cores).
// - the test images: every stand-in built from its recipe under a bench-only tag, first with Docker's layer
//   cache off (cold: apt downloads included), then again on the layers that left (warm); then removed.

import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cachePath } from '../lib/cache-root.ts';
import { connectDocker } from '../lib/docker/connect.ts';
import { inspectImage, removeImage } from '../lib/docker/images.ts';
import { DEFAULT_KUBERNETES_VERSION } from '../tasks/config/config.ts';
import { DEBOOTSTRAP_BASE_TAG } from '../tasks/images/node-image.ts';
import { buildStandIn, E2E_IMAGES, STAND_IN_INPUTS, type E2eImageKey } from '../tasks/conformance/images.ts';
import { accountPart, inPart, minutes, specOutcomes, type PartAccount } from '../tasks/conformance/report.ts';
import { DEFAULT_OPTIONS } from '../tasks/conformance/run.ts';
import { CONFORMANCE_SKIPS } from '../tasks/conformance/skips.ts';
import { projectRootAt, scratchProjectRoot } from '../test/lib/scratch-root.ts';

const CLUSTER = 'harder-t-conf';
const VERSION = DEFAULT_KUBERNETES_VERSION;
const config = { clusterName: CLUSTER, nodeSubnet: '10.249.0.0/24', apiHostPort: 7249, mergeKubeconfig: false, binarySource: 'go' };

// --- arguments
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const value = (name: string, fallback: number): number => {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i === -1) return fallback;
  const n = Number(argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench/conformance.ts: ${name} wants a whole number ≥ 1`);
  return n;
};
const known = ['--control-planes', '--procs', '--parallel-only', '--serial-only', '--no-suite', '--keep', '--cold-e2e', '--no-build-costs'];
for (const a of argv) if (a.startsWith('--') && !known.includes(a.split('=')[0]!)) throw new Error(`bench/conformance.ts: unknown argument ${a} (known: ${known.join(' ')})`);
const controlPlanes = value('--control-planes', 1);
const procs = value('--procs', DEFAULT_OPTIONS.procs);
const parts: ('parallel' | 'serial')[] = flag('--no-suite') ? [] : flag('--parallel-only') ? ['parallel'] : flag('--serial-only') ? ['serial'] : ['parallel', 'serial'];

// --- the bench's project root and the machine's load while it runs
const root = projectRootAt(join(tmpdir(), `${CLUSTER}-bench`));
const configFile = join(root, 'bench-config.json');
writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
// The spec's clusterName makes it this root's default cluster: its state is output/ itself.
const stateDir = join(root, 'output');
const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const say = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const loads: number[] = [];
const sampler = setInterval(() => loads.push(loadavg()[0]!), 30_000);
loads.push(loadavg()[0]!);

type Run = { s: number; output: string; code: number };
/** One run of the real CLI in the bench root; the CLI's own flags go before a `--` (what follows is the conformance command's). */
async function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string; allowFailure?: boolean } = {}): Promise<Run> {
  const started = performance.now();
  const split = args.indexOf('--');
  const own = ['--config', configFile, '--plain'];
  const full = split === -1 ? [...args, ...own] : [...args.slice(0, split), ...own, ...args.slice(split)];
  say(`$ tasks.ts ${full.join(' ')}`);
  const res = await execa('npx', ['tsx', 'tasks.ts', ...full], { cwd: opts.cwd ?? root, reject: false, all: true, env: opts.env ?? {} });
  const run = { s: (performance.now() - started) / 1000, output: String(res.all ?? ''), code: res.exitCode ?? -1 };
  say(`  exit ${run.code} after ${minutes(run.s)}`);
  if (run.code !== 0 && !opts.allowFailure) throw new Error(`tasks.ts ${args.join(' ')} exited ${run.code}:\n${run.output.slice(-3000)}`);
  return run;
}
const built = (run: Run) => (run.output.match(/^✓ /gm) ?? []).length;

const rows: [string, string][] = [];
const notes: string[] = [];
let existed = false;
let complete = true;
let verdict = 'the suite was not run (--no-suite)';

try {
  const ps = await execa('docker', ['ps', '-aq', '--filter', `label=harder.cluster=${CLUSTER}`]);
  existed = String(ps.stdout).trim() !== '';
  say(`bench: cluster ${CLUSTER} (${controlPlanes} control plane${controlPlanes > 1 ? 's' : ''}, 2 workers) in ${root}${existed ? ', reusing its containers' : ''}`);
  const detail: string[] = [];
  if (parts.length > 0) {
    const up = await cli(['cluster', '--control-planes', String(controlPlanes)]);
    rows.push([existed ? 'cluster, reused (`cluster` run)' : 'cluster, brought up from cached images and binaries', `${minutes(up.s)} (${built(up)} targets built)`]);

    // The suite's binaries and images, into the workers, before any part is timed.
    const help = (await cli(['--help'])).output;
    const prepTargets = [...new Set([...help.matchAll(/^\s+((?:bin:(?:e2e\.test|ginkgo|agnhost|sample-apiserver))|(?:image|load):e2e-\S+)\s/gm)].map((m) => m[1]!))];
    const prep = await cli(prepTargets);
    rows.push([`e2e.test, ginkgo, agnhost, sample-apiserver, nnp and the ${Object.keys(E2E_IMAGES).length} test images into every worker, as this run found them`, `${minutes(prep.s)} (${built(prep)} of ${prepTargets.length} targets built)`]);

    // The suite's own list of its conformance tests.
    const listFile = join(process.env.HARDER_GOMODCACHE ?? cachePath('go', 'mod'), `k8s.io/kubernetes@${VERSION}`, 'test/conformance/testdata/conformance.yaml');
    const list = (parseYaml(readFileSync(listFile, 'utf8')) as { codename: string }[]).map((t) => t.codename);
    const listed = (name: string) => CONFORMANCE_SKIPS.some((s) => name.includes(s.test));
    const expectedOf = (part: 'parallel' | 'serial') => list.filter((name) => inPart(part, name));
    rows.push([`conformance tests (conformance.yaml, ${VERSION})`, `${list.length}: ${expectedOf('parallel').length} parallel, ${expectedOf('serial').length} [Serial]`]);

    const accounts: PartAccount[] = [];
    for (const part of parts) {
      const conformanceDir = join(stateDir, 'conformance');
      const before = new Set(existsSync(conformanceDir) ? readdirSync(conformanceDir) : []);
      const run = await cli(['conformance', '--', `--${part}-only`, `--procs=${procs}`], { allowFailure: true });
      const dirs = existsSync(conformanceDir) ? readdirSync(conformanceDir).filter((d) => !before.has(d)) : [];
      const reportDir = dirs.length === 1 ? join(conformanceDir, dirs[0]!) : undefined;
      const reportFile = reportDir && join(reportDir, `report-${part}.json`);
      const outcomes = reportFile && existsSync(reportFile) ? specOutcomes(readFileSync(reportFile, 'utf8')) : undefined;
      const account = accountPart(part, expectedOf(part), outcomes, listed);
      accounts.push(account);
      const summary = reportDir && existsSync(join(reportDir, 'summary.json')) ? (JSON.parse(readFileSync(join(reportDir, 'summary.json'), 'utf8')) as { seconds: number }) : undefined;
      const what = part === 'parallel' ? `parallel part (${procs} ginkgo processes)` : '[Serial] part (one at a time)';
      rows.push([`wall time, ${what}`, `${summary ? minutes(summary.seconds) : 'no summary'} under ginkgo, ${minutes(run.s)} for the command; ${account.passed.length} passed, ${account.failed.length} failed of ${account.expected}`]);
      if (!outcomes) notes.push(`the ${part} part wrote no report (exit ${run.code}): every test of it is counted as not run. The end of its output:\n${run.output.trim().split('\n').slice(-12).join('\n')}`);
      else if (run.code !== 0 && account.failed.length === 0) notes.push(`the ${part} part exited ${run.code} with no failed test (see ${reportDir}/e2e-${part}.log)`);
      if (account.ranUnlisted.length) notes.push(`the ${part} part ran ${account.ranUnlisted.length} test(s) conformance.yaml does not name (a name spelt differently?): ${account.ranUnlisted.slice(0, 5).join('; ')}`);
      if (reportDir) say(`  report: ${reportDir}`);
    }

    const sum = (f: (a: PartAccount) => number) => accounts.reduce((n, a) => n + f(a), 0);
    const counted = sum((a) => a.expected);
    const notRun = sum((a) => a.notRun.length);
    const scope = counted === list.length ? `of ${list.length}` : `of the ${counted} in the parts run (${list.length} in all)`;
    rows.push(['passed', `${sum((a) => a.passed.length)} ${scope}`]);
    rows.push(['failed', String(sum((a) => a.failed.length))]);
    rows.push(['skipped', `${sum((a) => a.listedSkips.length + a.selfSkipped.length)} (listed in tasks/conformance/skips.ts: ${sum((a) => a.listedSkips.length)}; skipped by the suite itself: ${sum((a) => a.selfSkipped.length)})`]);
    rows.push(['not run (a part crashed or stopped before them)', String(notRun)]);
    complete = notRun === 0 && sum((a) => a.failed.length + a.selfSkipped.length) === 0 && notes.length === 0;
    verdict = !complete
      ? 'NOT a clean run: see the failures, suite skips, tests not run and notes above'
      : counted === list.length
        ? `complete: every one of the ${list.length} conformance tests passed or is a listed skip`
        : `every one of the ${counted} tests of the part run passed or is a listed skip (the other part was not run)`;

    for (const a of accounts) {
      for (const name of a.listedSkips) detail.push(`SKIP (${a.part}) ${name}\n    ${CONFORMANCE_SKIPS.find((s) => name.includes(s.test))!.reason}`);
      for (const s of a.selfSkipped) detail.push(`SKIPPED BY THE SUITE (${a.part}) ${s.name}\n    ${s.reason.join('\n    ')}`);
      for (const f of a.failed) detail.push(`FAIL (${a.part}) ${f.name}\n    ${f.reason.join('\n    ')}`);
      for (const name of a.notRun) detail.push(`NOT RUN (${a.part}) ${name}`);
    }
  }

  if (!flag('--no-build-costs')) rows.push(...(await buildCosts()));

  loads.push(loadavg()[0]!);
  const sorted = [...loads].sort((x, y) => x - y);
  rows.push(['machine', `${cpus().length} cores; 1-min load average: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)}, max ${sorted.at(-1)!.toFixed(1)} (sampled every 30 s)`]);
  const table = [
    `conformance bench, ${stamp}: cluster ${CLUSTER}, ${controlPlanes} control plane(s) + 2 workers, Kubernetes ${VERSION}`,
    '',
    '| measure | value |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    ...detail,
    ...notes.map((n) => `NOTE ${n}`),
    verdict,
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  mkdirSync(join(stateDir, 'bench'), { recursive: true });
  writeFileSync(join(stateDir, 'bench', `conformance-${stamp.replace(/:/g, '-')}.md`), `${table}\n`);
  say(`table written to ${join(stateDir, 'bench')}`);
} finally {
  clearInterval(sampler);
  if (!existed && parts.length > 0 && !flag('--keep')) await cli(['clean:nodes', '--yes'], { allowFailure: true });
  else if (existed || parts.length > 0) say(`cluster ${CLUSTER} left running (${existed ? 'it was there before' : '--keep'}); remove it with: cd ${root} && npx tsx tasks.ts --config bench-config.json clean:nodes --yes`);
}
process.exitCode = complete ? 0 : 1;

/** The cold and warm cost of building the suite's binaries and its test images, without touching the shared ones. */
async function buildCosts(): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const shared = { HARDER_GOCACHE: process.env.HARDER_GOCACHE ?? cachePath('go', 'build'), HARDER_GOMODCACHE: process.env.HARDER_GOMODCACHE ?? cachePath('go', 'mod') };
  const suite = ['bin:e2e.test', 'bin:ginkgo', 'bin:agnhost', 'bin:sample-apiserver'];
  const scratch = scratchProjectRoot('harder-bench-e2e-build-');
  const scratchCache = mkdtempSync(join(tmpdir(), 'harder-bench-cache-'));
  try {
    const recordFile = cachePath('bin', VERSION, 'go', 'e2e.test.json');
    if (existsSync(recordFile)) {
      const record = JSON.parse(readFileSync(recordFile, 'utf8')) as { seconds?: number };
      out.push([
        'e2e.test alone, its first build into the shared cache (recorded, not measured by this run)',
        `${record.seconds === undefined ? 'no time recorded' : minutes(record.seconds)}, ${statSync(recordFile).mtime.toISOString().slice(0, 16)}Z (cold or not as the Go build cache was then)`,
      ]);
    }
    if (flag('--cold-e2e')) {
      const emptyGoCache = mkdtempSync(join(tmpdir(), 'harder-bench-gocache-'));
      try {
        const cold = await cli(suite, { cwd: scratch, env: { HARDER_CACHE: scratchCache, HARDER_GOMODCACHE: shared.HARDER_GOMODCACHE, HARDER_GOCACHE: emptyGoCache } });
        out.push(['e2e.test + ginkgo + agnhost + sample-apiserver, empty Go build cache (measured)', minutes(cold.s)]);
      } finally {
        rmSync(emptyGoCache, { recursive: true, force: true });
      }
      rmSync(join(scratchCache, 'bin'), { recursive: true, force: true });
    }
    const warm = await cli(suite, { cwd: scratch, env: { HARDER_CACHE: scratchCache, ...shared } });
    out.push(['e2e.test + ginkgo + agnhost + sample-apiserver, warm Go build cache: links only (measured)', minutes(warm.s)]);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(scratchCache, { recursive: true, force: true });
  }

  const docker = await connectDocker();
  const base = await inspectImage(docker, DEBOOTSTRAP_BASE_TAG);
  if (!base) return [...out, ['test images', `not measured: no ${DEBOOTSTRAP_BASE_TAG} image`]];
  const moduleDir = join(shared.HARDER_GOMODCACHE, `k8s.io/kubernetes@${VERSION}`);
  const binaryOf = (name: string) => ({ path: cachePath('bin', VERSION, 'go', name), sha256: '', version: VERSION, moduleDir });
  const binaries = { agnhost: binaryOf('agnhost'), sampleApiserver: binaryOf('sample-apiserver'), nonewprivs: binaryOf('nonewprivs') };
  const tagOf = (key: E2eImageKey) => `harder-bench-cold/e2e-${E2E_IMAGES[key].name}:${stamp.replace(/:/g, '-').toLowerCase()}`;
  const buildAll = async (cache: boolean): Promise<number> => {
    const started = performance.now();
    const ids = new Map<E2eImageKey, string>();
    for (const key of Object.keys(E2E_IMAGES) as E2eImageKey[]) {
      const { from, binary } = STAND_IN_INPUTS[key];
      ids.set(key, await buildStandIn(key, { baseId: base.id, tags: [tagOf(key)], cache, log: () => {}, ...(binary ? { binary: binaries[binary] } : {}), ...(from ? { fromId: ids.get(from)! } : {}) }));
    }
    return (performance.now() - started) / 1000;
  };
  const n = Object.keys(E2E_IMAGES).length;
  try {
    say(`building the ${n} test images under bench-only tags, Docker's layer cache off`);
    out.push([`the ${n} test images, Docker's layer cache off: cold, apt downloads included (measured)`, minutes(await buildAll(false))]);
    say(`building them again on the layers just made`);
    out.push([`the ${n} test images again on Docker's layer cache: warm (measured)`, minutes(await buildAll(true))]);
  } finally {
    for (const key of (Object.keys(E2E_IMAGES) as E2eImageKey[]).reverse()) await removeImage(docker, tagOf(key), true).catch(() => false);
  }
  return out;
}
