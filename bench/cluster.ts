// Cluster benchmark through the real CLI, with images and binaries already cached: a cold `cluster` to
// every node Ready (1 control plane + 2 workers), a no-op `cluster` (whole process, start-up included),
// and a one-field kubelet change to the node Ready with it. Own cluster (harder-bench, 10.244.0.0/24) in a
// scratch root; removed at the end. Run: npx tsx bench/cluster.ts  (BENCH_COLD_RUNS, BENCH_NOOP_RUNS, BENCH_FLAG_RUNS)

import { execa } from 'execa';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedBinaryPath } from '../tasks/binaries/index.ts';
import { DEFAULT_KUBERNETES_VERSION } from '../tasks/config/config.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLUSTER = 'harder-bench';
const base = { clusterName: CLUSTER, nodeSubnet: '10.244.0.0/24', binarySource: 'go' };
const runs = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

const root = mkdtempSync(join(tmpdir(), 'harder-bench-'));
for (const entry of readdirSync(repo)) if (!['output', 'tasks.ts', '.git'].includes(entry)) symlinkSync(join(repo, entry), join(root, entry));
copyFileSync(join(repo, 'tasks.ts'), join(root, 'tasks.ts'));
const configFile = join(root, 'bench-config.json');
const setConfig = (extra: Record<string, unknown> = {}) => writeFileSync(configFile, JSON.stringify({ ...base, ...extra }));
const kubeconfig = join(root, 'output/kubeconfig/admin.kubeconfig');
const kubectlBin = cachedBinaryPath('kubectl', DEFAULT_KUBERNETES_VERSION, 'go');

async function cli(...args: string[]): Promise<{ ms: number; built: number; output: string }> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '-j', '6'], { cwd: root, reject: false, all: true });
  const ms = performance.now() - started;
  const output = String(res.all ?? '');
  if (res.exitCode !== 0) throw new Error(`tasks.ts ${args.join(' ')} exited ${res.exitCode}:\n${output.slice(-3000)}`);
  return { ms, built: (output.match(/^✓ /gm) ?? []).length, output };
}

/** Polls the API until worker-1 and worker-2 are Ready and `extra` holds. */
async function untilReady(extra: (nodes: any[]) => boolean = () => true, timeoutMs = 300_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const res = await execa(existsSync(kubectlBin) ? kubectlBin : 'kubectl', ['--kubeconfig', kubeconfig, 'get', 'nodes', '-o', 'json'], { reject: false });
    if (res.exitCode === 0) {
      const items = (JSON.parse(String(res.stdout)) as { items: any[] }).items;
      const ready = ['worker-1', 'worker-2'].every((w) => items.some((n) => n.metadata.name === w && n.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True')));
      if (ready && extra(items)) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('nodes not Ready in time');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  setConfig();
  // Warm the shared caches (images, binaries) and the scratch root's certs, then start from no nodes.
  await cli('images', 'binaries', 'certs');
  const cold: number[] = [];
  for (let i = 0; i < runs('BENCH_COLD_RUNS', 1); i++) {
    await cli('clean:nodes', '--yes');
    const started = performance.now();
    await cli('cluster');
    await untilReady();
    cold.push(performance.now() - started);
    console.log(`cold run ${i + 1}: ${fmt(cold.at(-1)!)}`);
  }
  const noop: number[] = [];
  for (let i = 0; i < runs('BENCH_NOOP_RUNS', 5); i++) {
    const r = await cli('cluster');
    if (r.built !== 0) console.log(`warning: no-op run built ${r.built} targets`);
    noop.push(r.ms);
  }
  const flag: number[] = [];
  for (let i = 0; i < runs('BENCH_FLAG_RUNS', 3); i++) {
    const pods = String(40 + i);
    setConfig({ kubeletOverrides: { 'worker-2': { maxPods: Number(pods) } } });
    const started = performance.now();
    await cli('cluster');
    await untilReady((items) => items.find((n) => n.metadata.name === 'worker-2')?.status.capacity.pods === pods);
    flag.push(performance.now() - started);
  }
  const rows: [string, number[], number][] = [
    ['cold `cluster` → all nodes Ready (1+2)', cold, 90_000],
    ['no-op `cluster` (whole process, npx tsx)', noop, 500],
    ['one kubelet field → node Ready with it', flag, 15_000],
  ];
  console.log('\n| measurement | runs | median | min | max | goal | met |\n|---|---|---|---|---|---|---|');
  for (const [name, xs, goal] of rows) {
    console.log(`| ${name} | ${xs.length} | ${fmt(median(xs))} | ${fmt(Math.min(...xs))} | ${fmt(Math.max(...xs))} | ≤ ${fmt(goal)} | ${median(xs) <= goal ? 'yes' : 'no'} |`);
  }
}

try {
  await main();
} finally {
  await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--config', configFile, '--plain'], { cwd: root, reject: false });
  rmSync(root, { recursive: true, force: true });
}
