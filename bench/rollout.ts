// What one-node-at-a-time ordering (tasks/cluster/rollout.ts) costs a fresh cluster: a 1 control plane + 2
// worker `cluster` from nothing (images and binaries cached), timed whole, and for each chained worker unit
// how long after worker-1's worker-2's became active; then a no-op `cluster`. With BENCH_BASELINE=<another
// checkout> (e.g. `git worktree add --detach /tmp/base <commit before rollout.ts>` with node_modules linked)
// the same runs there, interleaved, for the difference. Own cluster (harder-t-renew, 10.252.0.0/24, port
// 7252) in scratch roots, removed after each run. Run: npx tsx bench/rollout.ts  (BENCH_RUNS, default 2)

import { execa } from 'execa';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLUSTER = 'harder-t-renew';
const spec = { clusterName: CLUSTER, nodeSubnet: '10.252.0.0/24', binarySource: 'go', mergeKubeconfig: false, apiHostPort: 7252, addons: { metallb: { enabled: false } } };
const runs = Number(process.env.BENCH_RUNS ?? 2);
const UNITS = ['containerd', 'kubelet', 'kube-proxy'];

/** A scratch project root of `checkout` (tasks.ts copied, everything else linked), with the spec file. */
function scratch(checkout: string): { root: string; config: string } {
  const root = mkdtempSync(join(tmpdir(), 'harder-bench-rollout-'));
  for (const entry of readdirSync(checkout)) if (!['output', 'tasks.ts', '.git'].includes(entry)) symlinkSync(join(checkout, entry), join(root, entry));
  copyFileSync(join(checkout, 'tasks.ts'), join(root, 'tasks.ts'));
  const config = join(root, 'bench-config.json');
  writeFileSync(config, JSON.stringify(spec));
  return { root, config };
}

async function cli(root: string, config: string, ...args: string[]): Promise<{ ms: number; built: number }> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', config, '--plain', '-j', '6'], { cwd: root, reject: false, all: true });
  const ms = performance.now() - started;
  const output = String(res.all ?? '');
  if (res.exitCode !== 0) throw new Error(`${root}: tasks.ts ${args.join(' ')} exited ${res.exitCode}:\n${output.slice(-3000)}`);
  return { ms, built: (output.match(/^✓ /gm) ?? []).length };
}

/** µs of the shared monotonic clock at which `unit` last became active on `node`. */
async function activeAt(node: string, unit: string): Promise<number> {
  const res = await execa('docker', ['exec', `${CLUSTER}-${node}`, 'systemctl', 'show', '-p', 'ActiveEnterTimestampMonotonic', '--value', `${unit}.service`]);
  return Number(String(res.stdout).trim());
}

type Sample = { freshMs: number; noopMs: number; lagMs: Record<string, number> };

async function sample(checkout: string): Promise<Sample> {
  const { root, config } = scratch(checkout);
  try {
    const fresh = await cli(root, config, 'cluster', 'load:echo@worker-1', 'load:echo@worker-2');
    const lagMs: Record<string, number> = {};
    for (const unit of UNITS) lagMs[unit] = ((await activeAt('worker-2', unit)) - (await activeAt('worker-1', unit))) / 1000;
    const noop = await cli(root, config, 'cluster');
    return { freshMs: fresh.ms, noopMs: noop.ms, lagMs };
  } finally {
    await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--config', config, '--plain'], { cwd: root, reject: false });
    rmSync(root, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const checkouts: [string, string][] = [['this checkout', repo], ...(process.env.BENCH_BASELINE ? [['baseline', resolve(process.env.BENCH_BASELINE)] as [string, string]] : [])];
const samples = new Map<string, Sample[]>(checkouts.map(([label]) => [label, []]));
for (let i = 0; i < runs; i++) {
  for (const [label, checkout] of checkouts) {
    const s = await sample(checkout);
    samples.get(label)!.push(s);
    process.stdout.write(`${label} run ${i + 1}: fresh cluster ${(s.freshMs / 1000).toFixed(1)} s, no-op ${(s.noopMs / 1000).toFixed(2)} s; worker-2 active after worker-1: ${UNITS.map((u) => `${u} ${s.lagMs[u]!.toFixed(0)} ms`).join(', ')}\n`);
  }
}
for (const [label, checkout] of checkouts) {
  const all = samples.get(label)!;
  process.stdout.write(
    `${label} (${checkout}), median of ${all.length}: fresh cluster ${(median(all.map((s) => s.freshMs)) / 1000).toFixed(1)} s, no-op ${(median(all.map((s) => s.noopMs)) / 1000).toFixed(2)} s; ` +
      `worker-2 active after worker-1: ${UNITS.map((u) => `${u} ${median(all.map((s) => s.lagMs[u]!)).toFixed(0)} ms`).join(', ')}\n`,
  );
}
