// Loading images into nodes, old way against new, side by side in one run, on two real worker node
// containers (cluster harder-b-load, on the first free /24 of the named-cluster pool):
//   old: one `docker save | ctr images import` per (image, node), two at a time (the targets under --jobs 2)
//   new: loadImagesIntoNode per node, both nodes at once: one stream per node, a second tag only tagged
// with ten local images of BENCH_IMAGE_MB (default 20) MB of random data each, one of them under a second
// tag (eleven names), then a second load of the same names (nothing to transfer). Between runs the
// images are removed from the nodes with `ctr images rm --sync`, so each run starts from empty nodes.
// Goals: the ten images into two workers in under 60 s; a second load under 1 s.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanTargets, runBuild } from '../lib/engine/index.ts';
import { connectDocker } from '../lib/docker/connect.ts';
import { buildImage } from '../lib/docker/images.ts';
import { CRI_NAMESPACE, loadImagesIntoNode, normalizeImageRef } from '../lib/docker/load-image.ts';
import { nodeHandle, type NodeHandle } from '../lib/docker/node-access.ts';
import { allocateSubnet, listDockerNetworks } from '../tasks/config/clusters.ts';
import { defaultConfig, type ClusterConfig } from '../tasks/config/config.ts';
import { ipPlanTarget, planIps } from '../tasks/net/ip-plan.ts';
import { nodesStep } from '../tasks/nodes/index.ts';

const MB = Number(process.env.BENCH_IMAGE_MB ?? 20);
const COUNT = 10;
const networks = (await listDockerNetworks()) ?? [];
// Clear of every Docker network and of the default cluster's subnet, which is free only while that cluster is down.
const reserved = [{ subnet: defaultConfig.nodeSubnet, what: 'the default cluster' }, ...networks.flatMap((n) => n.subnets.map((s) => ({ subnet: s, what: n.name })))];
const subnet = allocateSubnet(reserved);
if (!subnet) throw new Error('no free /24 for the bench nodes');
const config: ClusterConfig = {
  ...defaultConfig,
  clusterName: 'harder-b-load',
  nodeSubnet: subnet,
  // The plan needs a control plane; only the workers' containers are made.
  nodes: [
    { name: 'controller-1', role: 'control-plane' },
    { name: 'worker-1', role: 'worker' },
    { name: 'worker-2', role: 'worker' },
  ],
};
const plan = ipPlanTarget(config, planIps(config));
const nodes = nodesStep(config, planIps(config));
const registry = [plan, ...nodes.all];
const root = process.cwd();
const outDir = await mkdtemp(join(tmpdir(), 'harder-bench-load-'));
const docker = await connectDocker();
const refs = Array.from({ length: COUNT }, (_, i) => `harder.local/bench-load-${i}:1`);
const names = [...refs, 'harder.local/bench-load-0:second-tag'];

/** The old way for one (image, node): its own docker save, its own import. */
async function oldLoad(node: NodeHandle, ref: string): Promise<void> {
  const stream = await docker.getImage(ref).get();
  await node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'import', '-'], { stdin: stream });
}

/** Runs `jobs` over `width` workers, as the engine runs targets under --jobs. */
async function pool(jobs: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) await jobs[next++]!();
  }));
}

async function emptyNodes(handles: NodeHandle[]): Promise<void> {
  for (const node of handles) await node.exec(['ctr', '-n', CRI_NAMESPACE, 'images', 'rm', '--sync', ...names.map(normalizeImageRef)], { allowFailure: true });
}

const seconds = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
};

try {
  const report = await runBuild({ targets: registry, requested: ['node:worker-1', 'node:worker-2'], root, outDir, jobs: 2 });
  if (!report.ok) throw new Error(report.failures.map((f) => `${f.target}: ${f.message}`).join('\n'));
  const handles = ['worker-1', 'worker-2'].map((n) => nodeHandle((report.entries[`node:${n}`]!.result as { container: string }).container));
  for (const [i, ref] of refs.entries()) {
    const tags = i === 0 ? [ref, names[COUNT]!] : [ref];
    await buildImage(docker, { tags, context: [{ path: 'Dockerfile', content: `FROM scratch\nCOPY blob /blob-${i}\n` }, { path: 'blob', content: randomBytes(MB * 1024 * 1024) }] });
  }

  await emptyNodes(handles);
  const old = await seconds(() => pool(handles.flatMap((node) => names.map((ref) => () => oldLoad(node, ref))), 2));
  await emptyNodes(handles);
  // As the load targets do: manifest → config digests remembered in the state directory.
  const configCache = join(outDir, 'cache', 'containerd-image-configs.json');
  const fresh = await seconds(() => Promise.all(handles.map((node) => loadImagesIntoNode(node, names, { configCache }))));
  const again = await seconds(() => Promise.all(handles.map((node) => loadImagesIntoNode(node, names, { configCache }))));

  console.log(`${COUNT} images of ${MB} MB (one also under a second tag: ${names.length} names) into 2 worker nodes`);
  console.log(`  old: one save+import per (image, node), 2 at a time   ${old.toFixed(1)} s`);
  console.log(`  new: one stream per node, nodes in parallel, tags      ${fresh.toFixed(1)} s   goal < 60 s: ${fresh < 60 ? 'met' : 'NOT met'}   (${(fresh / old).toFixed(2)}× old)`);
  console.log(`  new, second load of the same names (in-process)        ${again.toFixed(2)} s   goal < 1 s: ${again < 1 ? 'met' : 'NOT met'}`);
  console.log('(2 cores shared with other work: a loaded machine; compare within one run)');
} finally {
  await cleanTargets({ targets: registry, requested: ['node:worker-1', 'node:worker-2', 'net:network'], root, outDir, yes: true }).catch((e) => console.error(e));
  for (const ref of names) await docker.getImage(ref).remove({ force: true }).catch(() => {});
  await rm(outDir, { recursive: true, force: true });
}
