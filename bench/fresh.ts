// Fresh-machine benchmark: from a clean clone and empty caches to every node Ready, as a new user's first
// run. A scratch HOME empties npm's cache, Go's module and build caches and harder's binary cache
// (~/.cache/harder); the clone has no node_modules and no output/. Docker's images are machine-wide: the
// debootstrap base tag (harder-base:bookworm) is moved aside for the run, so the base is debootstrapped again
// and every image built on it (node, endpoint) is rebuilt from it; the tag is put back at the end and the
// images this run made are removed. On a machine with no Docker engine installed, the run's
// host:preflight installs Debian's docker.io and starts dockerd, and that install is in the figure; where
// an engine is already installed it is not, and the report says which. Two figures: when every node is
// first Ready (polled with the cluster's kubectl while `cluster` runs) and when `cluster` itself ends
// (add-ons deployed, checks passed). Then the no-op `cluster`, whole process, both ways of starting the
// CLI. Own cluster (harder-fresh, 10.236.0.0/24), removed at the end. The first run's whole log is kept
// in the temp directory (its path is printed).
// Run: npx tsx bench/fresh.ts   (BENCH_NOOP_RUNS, default 5)

import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_KUBERNETES_VERSION } from '../tasks/config/config.ts';
import { DEBOOTSTRAP_BASE_TAG } from '../tasks/images/node-image.ts';
import { findDockerd } from '../lib/docker/ensure-engine.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FRESH_GOAL_MS = 10 * 60_000;
const NOOP_GOAL_MS = 500;
const SAVED_BASE_TAG = 'harder-bench-saved-base:bookworm';
const noopRuns = Number(process.env.BENCH_NOOP_RUNS ?? 5);

const scratch = mkdtempSync(join(tmpdir(), 'harder-fresh-'));
const home = join(scratch, 'home');
const checkout = join(scratch, 'harder');
const configFile = join(scratch, 'fresh.json');
mkdirSync(home);
writeFileSync(configFile, JSON.stringify({ clusterName: 'harder-fresh', nodeSubnet: '10.236.0.0/24', binarySource: 'go' }));

/** The environment of a new user: a HOME of its own and none of this shell's cache overrides. */
const env: Record<string, string | undefined> = { ...process.env, HOME: home, PATH: `${process.env.PATH}:/usr/local/go/bin` };
for (const name of ['HARDER_CACHE', 'GOCACHE', 'GOMODCACHE', 'GOPATH', 'npm_config_cache', 'NPM_CONFIG_CACHE', 'XDG_CACHE_HOME']) env[name] = undefined;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number) => (ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 1000).toFixed(2)} s`);

/** One command in the checkout with the new user's environment; its wall time and output. Throws when it fails. */
async function step(file: string, args: string[], cwd = checkout): Promise<{ ms: number; output: string }> {
  const started = performance.now();
  const res = await execa(file, args, { cwd, env, extendEnv: false, reject: false, all: true });
  const ms = performance.now() - started;
  const output = String(res.all ?? '');
  if (res.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} exited ${res.exitCode}:\n${output.slice(-3000)}`);
  return { ms, output };
}

const docker = async (...args: string[]) => String((await execa('docker', args, { reject: false })).stdout).trim();
const imageIds = async () => new Set((await docker('images', '-q', '--no-trunc')).split('\n').filter(Boolean));

const kubectl = join(home, '.cache/harder/bin', DEFAULT_KUBERNETES_VERSION, 'go/kubectl');
const adminKubeconfig = join(checkout, 'output/kubeconfig/admin.kubeconfig');

/** The cluster's nodes and whether each is Ready (kubectl get nodes); undefined while there is no API to ask. */
async function nodeStates(): Promise<{ name: string; ready: boolean }[] | undefined> {
  if (!existsSync(kubectl) || !existsSync(adminKubeconfig)) return undefined;
  const res = await execa(kubectl, ['--kubeconfig', adminKubeconfig, 'get', 'nodes', '--no-headers', '--request-timeout=5s'], { reject: false });
  if (res.exitCode !== 0) return undefined;
  return String(res.stdout).trim().split('\n').filter(Boolean).map((l) => ({ name: l.split(/\s+/)[0]!, ready: /\sReady\s/.test(l) }));
}

/** Every node of the cluster Ready once `cluster` has ended (the run's own figure). */
async function nodesReady(): Promise<string[]> {
  const states = await nodeStates();
  if (!states?.length || states.some((s) => !s.ready)) throw new Error(`not every node is Ready: ${JSON.stringify(states)}`);
  return states.map((s) => s.name).sort();
}

/** Polls the nodes every 2 s until stopped; returns each poll's time (ms since `started`) and the Ready nodes then. */
function pollReady(started: number): { stop(): Promise<{ ms: number; ready: string[] }[]> } {
  const polls: { ms: number; ready: string[] }[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const states = await nodeStates();
      if (states) polls.push({ ms: performance.now() - started, ready: states.filter((s) => s.ready).map((s) => s.name).sort() });
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return polls;
    },
  };
}

/** The slowest targets of a run (the `✓ name (123.4s)` lines of --plain output). */
function slowest(output: string, count: number): string[] {
  const rows: { name: string; ms: number; text: string }[] = [];
  for (const m of output.matchAll(/^\s*✓ (\S+) \((\d+)ms\)$|^\s*✓ (\S+) \(([\d.]+)s\)$/gm)) {
    rows.push(m[1] ? { name: m[1], ms: Number(m[2]), text: `${m[2]}ms` } : { name: m[3]!, ms: Number(m[4]) * 1000, text: `${m[4]}s` });
  }
  return rows.sort((a, b) => b.ms - a.ms).slice(0, count).map((r) => `${r.name} ${r.text}`);
}

const engineInstalled = findDockerd() !== undefined;
const hadBase = engineInstalled && (await docker('images', '-q', DEBOOTSTRAP_BASE_TAG)) !== '';
const before = await imageIds();
try {
  if (hadBase) {
    await docker('tag', DEBOOTSTRAP_BASE_TAG, SAVED_BASE_TAG);
    await docker('rmi', DEBOOTSTRAP_BASE_TAG);
  }
  const clone = await step('git', ['clone', '--quiet', '--no-hardlinks', repo, checkout], scratch);
  const install = await step('npm', ['install', '--no-audit', '--no-fund']);
  const clusterStarted = performance.now();
  const poll = pollReady(clusterStarted);
  let cluster: { ms: number; output: string };
  let polls: { ms: number; ready: string[] }[];
  try {
    cluster = await step('npx', ['tsx', 'tasks.ts', 'cluster', '--config', configFile, '--plain']);
  } finally {
    polls = await poll.stop();
  }
  const nodes = await nodesReady();
  const log = join(tmpdir(), `harder-fresh-${new Date().toISOString().replace(/[:.]/g, '-')}.log`);
  writeFileSync(log, cluster.output);
  // The first poll that saw every node of the final set Ready (nodes register one by one).
  const firstReady = polls.find((p) => p.ready.join(' ') === nodes.join(' '));
  const readyMs = install.ms + (firstReady?.ms ?? cluster.ms);
  const total = install.ms + cluster.ms;

  const noop = { tsx: [] as number[], bundle: [] as number[] };
  for (let i = 0; i < noopRuns; i++) {
    for (const [way, file, args] of [['tsx', 'npx', ['tsx', 'tasks.ts']], ['bundle', process.execPath, ['harder.mjs']]] as const) {
      const r = await step(file, [...args, 'cluster', '--config', configFile, '--plain']);
      if (!/^0 built/m.test(r.output)) throw new Error(`the no-op run (${way}) built something:\n${r.output.slice(-2000)}`);
      noop[way].push(r.ms);
    }
  }

  const engineNote = engineInstalled ? 'the Docker engine was already installed: its install is NOT in the figures' : "no Docker engine was installed: the run's host:preflight installed and started it, in the figures";
  console.log(`fresh machine (scratch HOME, clean clone, base image debootstrapped again; ${engineNote})`);
  console.log(`  git clone                 ${secs(clone.ms)}`);
  console.log(`  npm install               ${secs(install.ms)}`);
  console.log(`  npx tsx tasks.ts cluster  ${secs(cluster.ms)} (${nodes.length} nodes Ready at its end); slowest targets: ${slowest(cluster.output, 5).join(', ')}`);
  console.log(`  the run's log: ${log}`);
  console.log(`  npm install → every node Ready:    ${secs(readyMs)}${firstReady ? '' : ' (no poll saw them all Ready before the end)'}   goal < ${secs(FRESH_GOAL_MS)}: ${readyMs < FRESH_GOAL_MS ? 'met' : 'NOT met'}`);
  console.log(`  npm install → \`cluster\` finished: ${secs(total)}   (add-ons deployed, checks passed)   under ${secs(FRESH_GOAL_MS)}: ${total < FRESH_GOAL_MS ? 'yes' : 'no'}`);
  console.log(`no-op cluster, whole process, median of ${noopRuns} (interleaved):`);
  for (const way of ['bundle', 'tsx'] as const) {
    const label = way === 'bundle' ? 'node harder.mjs cluster' : 'npx tsx tasks.ts cluster';
    console.log(`  ${label.padEnd(26)}${secs(median(noop[way]))} (min ${secs(Math.min(...noop[way]))}, max ${secs(Math.max(...noop[way]))})   goal < ${secs(NOOP_GOAL_MS)}: ${median(noop[way]) < NOOP_GOAL_MS ? 'met' : 'NOT met'}`);
  }
} finally {
  await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--config', configFile, '--plain'], { cwd: checkout, env, extendEnv: false, reject: false });
  // Put the developer's base back, and remove what this run built (images only it made).
  if (hadBase) {
    await docker('rmi', '-f', DEBOOTSTRAP_BASE_TAG);
    await docker('tag', SAVED_BASE_TAG, DEBOOTSTRAP_BASE_TAG);
    await docker('rmi', SAVED_BASE_TAG);
  }
  // Children before parents: a pass removes what nothing depends on any more.
  for (let pass = 0; pass < 4; pass++) {
    const made = [...(await imageIds())].filter((id) => !before.has(id));
    if (!made.length) break;
    for (const id of made) await docker('rmi', '-f', id);
  }
  rmSync(scratch, { recursive: true, force: true });
}
