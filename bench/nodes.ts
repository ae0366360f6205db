// Benchmark of the nodes step on the real Docker engine: node image build (no layer cache, and with it),
// network creation, containers to systemd-ready, no-op rerun and a restart of every node, for 1+2 and
// 1+5 nodes. Prints medians and how the time grows with the node count. Run: npx tsx bench/nodes.ts [reps]
// Uses cluster names harder-t-nodes-bench-* and 10.241.40-41.0/24; removes what it creates.

import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBuild, type BuildReport } from '../lib/engine/index.ts';
import { connectDocker } from '../lib/docker/connect.ts';
import { buildImage, removeImage } from '../lib/docker/images.ts';
import { nodeHandle } from '../lib/docker/node-access.ts';
import { waitForSystemd } from '../lib/docker/systemd-ready.ts';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../tasks/config/config.ts';
import { ipPlanTarget, planIps } from '../tasks/net/ip-plan.ts';
import { nodesStep } from '../tasks/nodes/index.ts';
import { removeClusterObjects } from '../tasks/nodes/cleanup.ts';
import { NODE_IMAGE_FILES, type BaseImage } from '../tasks/images/node-image.ts';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const reps = Number(process.argv[2] ?? 3);
const BENCH_IMAGE = 'harder-t-nodes-bench-image:nocache';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function fmt(ms: number | undefined): string {
  if (ms === undefined) return '-';
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = performance.now();
  const value = await fn();
  return [performance.now() - started, value];
}

function setup(name: string, subnet: string, workers: number) {
  const config: ClusterConfig = { ...defaultConfig, clusterName: name, nodeSubnet: subnet, nodes: defaultNodes({ controlPlanes: 1, workers }) };
  const plan = ipPlanTarget(config, planIps(config));
  const step = nodesStep(config, planIps(config));
  return { config, targets: [plan, ...step.all] };
}

function check(report: BuildReport): BuildReport {
  if (!report.ok) throw new Error(report.failures.map((f) => `${f.target}: ${f.message}`).join('\n'));
  return report;
}

type Row = { network: number[]; nodes: number[]; noop: number[]; restart: number[] };

async function benchCluster(name: string, subnet: string, workers: number): Promise<Row> {
  const { config, targets } = setup(name, subnet, workers);
  const row: Row = { network: [], nodes: [], noop: [], restart: [] };
  const docker = await connectDocker();
  for (let i = 0; i < reps; i++) {
    await removeClusterObjects(name);
    const outDir = mkdtempSync(join(tmpdir(), 'harder-t-nodes-bench-'));
    try {
      // Images are cached (built once before the loop): this measures only this cluster's objects.
      check(await runBuild({ targets, requested: ['image:node'], root, outDir }));
      row.network.push((await timed(async () => check(await runBuild({ targets, requested: ['net:network'], root, outDir }))))[0]);
      row.nodes.push((await timed(async () => check(await runBuild({ targets, requested: ['nodes'], root, outDir }))))[0]);
      const [noop, report] = await timed(async () => check(await runBuild({ targets, requested: ['nodes'], root, outDir })));
      const rebuilt = Object.entries(report.entries).filter(([, e]) => e.outcome !== 'up-to-date');
      if (rebuilt.length) throw new Error(`no-op run rebuilt ${rebuilt.map(([n]) => n).join(', ')}`);
      row.noop.push(noop);
      row.restart.push(
        (
          await timed(async () => {
            await Promise.all(
              config.nodes.map(async (node) => {
                const container = `${name}-${node.name}`;
                await docker.getContainer(container).restart();
                await waitForSystemd(nodeHandle(container, docker));
              }),
            );
          })
        )[0],
      );
    } finally {
      await removeClusterObjects(name);
      rmSync(outDir, { recursive: true, force: true });
    }
  }
  return row;
}

async function main(): Promise<void> {
  const docker = await connectDocker();
  console.log(`nodes benchmark: ${reps} repetitions per figure (medians), engine jobs = default`);
  // The base image is cached (that is the "cold" the issue asks for); the node image is built once
  // without the layer cache (cold) and once with it (warm), as a real docker build each time.
  const { targets } = setup('harder-t-nodes-bench-a', '10.241.40.0/24', 2);
  const imagesOut = mkdtempSync(join(tmpdir(), 'harder-t-nodes-bench-'));
  let baseRef: string;
  try {
    const report = check(await runBuild({ targets, requested: ['image:node'], root, outDir: imagesOut }));
    baseRef = (report.entries['image:base']!.result as BaseImage).id;
  } finally {
    rmSync(imagesOut, { recursive: true, force: true });
  }
  const context = NODE_IMAGE_FILES.map((f) => ({ path: f.path, mode: f.mode, content: readFileSync(join(root, 'tasks/images/node', f.path)) }));
  const [coldImage] = await timed(() => buildImage(docker, { context, tags: [BENCH_IMAGE], buildArgs: { BASE_IMAGE: baseRef }, cache: false }));
  const warmImage: number[] = [];
  for (let i = 0; i < reps; i++) warmImage.push((await timed(() => buildImage(docker, { context, tags: [BENCH_IMAGE], buildArgs: { BASE_IMAGE: baseRef } })))[0]);
  await removeImage(docker, BENCH_IMAGE, true);

  const small = await benchCluster('harder-t-nodes-bench-a', '10.241.40.0/24', 2);
  const large = await benchCluster('harder-t-nodes-bench-b', '10.241.41.0/24', 5);

  const rows: [string, number | undefined, number | undefined][] = [
    ['node image build, no layer cache (once)', coldImage, undefined],
    ['node image build, layer cache', median(warmImage), undefined],
    ['network create', median(small.network), median(large.network)],
    ['containers to systemd-ready (cold run)', median(small.nodes), median(large.nodes)],
    ['no-op rerun (probes only)', median(small.noop), median(large.noop)],
    ['docker restart of every node to ready', median(small.restart), median(large.restart)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\n${'phase'.padEnd(width)}  ${'1+2 nodes'.padStart(10)}  ${'1+5 nodes'.padStart(10)}  per extra node`);
  for (const [label, a, b] of rows) {
    const perNode = a !== undefined && b !== undefined ? fmt((b - a) / 3) : '';
    console.log(`${label.padEnd(width)}  ${fmt(a).padStart(10)}  ${fmt(b).padStart(10)}  ${perNode}`);
  }
  console.log('\n(images: 1+2 and 1+5 share them; "per extra node" = (1+5 − 1+2) / 3)');
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
