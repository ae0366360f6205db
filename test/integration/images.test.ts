// Builds the pause and test images (archives, no Docker), loads them into a real node container (cluster
// harder-t-images, subnet 10.242.0.0/24) through the engine, checks containerd lists them under the
// archives' IDs, runs the test image with `ctr run --net-host` and fetches its page inside the node, checks
// that loading again skips, and that `docker load` reads the same archives (CoreDNS answering in Docker).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild, cleanTargets } from '../../lib/engine/index.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { inspectImage } from '../../lib/docker/images.ts';
import { loadImageIntoNode, nodeImageId, normalizeImageRef } from '../../lib/docker/load-image.ts';
import { nodeHandle, type NodeHandle } from '../../lib/docker/node-access.ts';
import type { AnyTarget } from '../../lib/engine/target.ts';
import { defaultConfig, type ClusterConfig } from '../../tasks/config/config.ts';
import { ipPlanTarget, planIps } from '../../tasks/net/ip-plan.ts';
import { nodesStep } from '../../tasks/nodes/index.ts';
import type { ImageArchive } from '../../lib/image-archive.ts';
import { COREDNS_IMAGE, imagesTargets, loadCommandTargets, PAUSE_IMAGE, podNodeTargets, TEST_IMAGE } from '../../tasks/images/cluster-images.ts';

const config: ClusterConfig = {
  ...defaultConfig,
  clusterName: 'harder-t-images',
  nodeSubnet: '10.242.0.0/24',
  nodes: [
    { name: 'controller-1', role: 'control-plane' },
    { name: 'worker-1', role: 'worker' },
  ],
};
const root = process.cwd();
let outDir: string;
let registry: AnyTarget[];
let node: NodeHandle;

const plan = ipPlanTarget(config, planIps(config));
const nodes = nodesStep(config, planIps(config));
const images = imagesTargets(config, { nodes: nodes.nodes });
registry = [plan, ...nodes.all, ...images.all];

async function build(requested: string[]) {
  const report = await runBuild({
    targets: registry,
    requested,
    root,
    outDir,
    jobs: 2,
    reporter: {
      targetLog: (target, line) => console.log(`  [${target}] ${line}`),
      targetEnd: (target, entry) => console.log(`  ${target}: ${entry.outcome} (${entry.reason}) ${entry.ms} ms`),
    },
  });
  if (!report.ok) throw new Error(report.failures.map((f) => `${f.target}: ${f.message}`).join('\n'));
  return report;
}

test.before(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'harder-images-state-'));
});

test.after(async () => {
  // Remove the node (container, volume) and network this test made; leave the shared node image alone.
  await cleanTargets({ targets: registry, requested: ['node:worker-1', 'node:controller-1', 'net:network'], root, outDir, yes: true }).catch((e) => console.error(e));
  const docker = await connectDocker();
  for (const c of await docker.listContainers({ all: true, filters: { name: ['harder-t-images-'] } })) {
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {});
  }
  await rm(outDir, { recursive: true, force: true });
});

test('only worker nodes get load targets, one per image', () => {
  const names = images.loads.map((t) => t.name).sort();
  assert.equal(names, ['load:coredns@worker-1', 'load:echo@worker-1', 'load:pause@worker-1']);
  assert.equal(podNodeTargets(config, registry).map((t) => t.name), ['node:worker-1']);
});

/** `docker load` of an image target's archive; resolves with Docker's ID of the image. */
async function dockerLoad(archive: ImageArchive): Promise<string> {
  const docker = await connectDocker();
  const stream = await docker.loadImage(createReadStream(archive.path));
  await new Promise((resolve, reject) => docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve(undefined))));
  return (await inspectImage(docker, archive.refs[0]!))!.id;
}

test('pause and test images load into a real node; containerd lists them under the archives\' image IDs', async () => {
  const started = Date.now();
  const report = await build(['load:pause@worker-1', 'load:echo@worker-1']);
  console.log(`  first build: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const nodeResult = report.entries['node:worker-1']!.result as { container: string };
  node = nodeHandle(nodeResult.container);
  const ls = (await node.exec(['ctr', '-n', 'k8s.io', 'images', 'ls', '-q'])).stdout.toString('utf8');
  for (const [ref, image] of [[PAUSE_IMAGE, 'image:pause'], [TEST_IMAGE, 'image:echo']] as const) {
    assert.ok(ls.split('\n').includes(ref), `ctr images ls lists ${ref}:\n${ls}`);
    const archive = report.entries[image]!.result as ImageArchive;
    assert.match(archive.id, /^sha256:[0-9a-f]{64}$/);
    assert.is(await nodeImageId(node, ref), archive.id, `${ref} in the node is the archive's image`);
  }
  const pauseResult = report.entries['load:pause@worker-1']!.result as { id: string; node: string };
  assert.is(pauseResult.node, 'worker-1');
  assert.is(pauseResult.id, (report.entries['image:pause']!.result as ImageArchive).id);
});

test('ctr run --net-host of the test image answers over HTTP inside the node', async () => {
  const id = 'harder-t-echo';
  await node.exec(['ctr', '-n', 'k8s.io', 'run', '-d', '--net-host', '--env', 'PORT=18080', TEST_IMAGE, id]);
  try {
    let page = '';
    for (let attempt = 0; attempt < 50 && !page; attempt++) {
      // A second container of the same image fetches the page over the node's network.
      const probe = await node.exec(['ctr', '-n', 'k8s.io', 'run', '--rm', '--net-host', TEST_IMAGE, `${id}-probe-${attempt}`, 'wget', '-qO-', 'http://127.0.0.1:18080/'], {
        allowFailure: true,
      });
      page = probe.exitCode === 0 ? probe.stdout.toString('utf8').trim() : '';
      if (!page) await new Promise((r) => setTimeout(r, 200));
    }
    const hostname = (await node.exec(['hostname'])).stdout.toString('utf8').trim();
    assert.is(page, hostname, 'the page is the hostname (the node\'s, with --net-host)');
  } finally {
    await node.exec(['ctr', '-n', 'k8s.io', 'tasks', 'kill', '-s', 'SIGKILL', id], { allowFailure: true });
    await new Promise((r) => setTimeout(r, 300));
    await node.exec(['ctr', '-n', 'k8s.io', 'tasks', 'delete', id], { allowFailure: true });
    await node.exec(['ctr', '-n', 'k8s.io', 'containers', 'delete', id], { allowFailure: true });
  }
});

test('a second load run skips: targets up to date, and a direct load transfers nothing', async () => {
  const report = await build(['load:pause@worker-1', 'load:echo@worker-1']);
  assert.is(report.entries['load:pause@worker-1']!.outcome, 'up-to-date');
  assert.is(report.entries['load:echo@worker-1']!.outcome, 'up-to-date');
  // A direct load reads Docker's image store, which the archive targets never write: put the same archive
  // there first (on a fresh machine Docker has no such image).
  assert.is(await dockerLoad(report.entries['image:echo']!.result as ImageArchive), (report.entries['image:echo']!.result as ImageArchive).id);
  const lines: string[] = [];
  const outcome = await loadImageIntoNode(node, TEST_IMAGE, { log: (l) => lines.push(l) });
  assert.is(outcome.skipped, true);
  assert.match(lines.join('\n'), 'already has');
});

test('an image removed from the node (as on a recreated node) is loaded again', async () => {
  await node.exec(['ctr', '-n', 'k8s.io', 'images', 'rm', TEST_IMAGE]);
  assert.is(await nodeImageId(node, TEST_IMAGE), undefined);
  const report = await build(['load:echo@worker-1']);
  assert.is(report.entries['load:echo@worker-1']!.outcome, 'built');
  assert.match(report.entries['load:echo@worker-1']!.reason, 'no longer has');
  assert.ok(await nodeImageId(node, TEST_IMAGE));
});

test('docker load reads the archives under the same IDs, and the CoreDNS image (built from its Go module) answers DNS queries', async () => {
  const started = Date.now();
  const report = await build(['image:coredns', 'image:echo', 'net:network']);
  console.log(`  image:coredns: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const coredns = report.entries['image:coredns']!.result as ImageArchive;
  const echo = report.entries['image:echo']!.result as ImageArchive;
  assert.is(await dockerLoad(coredns), coredns.id, 'Docker and containerd agree on the ID: the config digest');
  assert.is(await dockerLoad(echo), echo.id);
  const docker = await connectDocker();
  // On this test's own network (not Docker's default bridge, which other tests may have disturbed).
  const network = (report.entries['net:network']!.result as { name: string }).name;
  const HostConfig = { NetworkMode: network };
  // No Corefile: CoreDNS serves the whoami plugin on :53, which answers any name with the client's address.
  const server = await docker.createContainer({ Image: COREDNS_IMAGE, Labels: { 'harder.test': 'images' }, HostConfig });
  try {
    await server.start();
    const ip = (await server.inspect()).NetworkSettings.Networks[network]!.IPAddress;
    const client = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['nslookup', '-type=a', 'whoami.example', ip], Labels: { 'harder.test': 'images' }, HostConfig });
    try {
      await client.start();
      const { StatusCode } = (await client.wait()) as { StatusCode: number };
      const logs = (await server.logs({ stdout: true, stderr: true })).toString('utf8');
      assert.is(StatusCode, 0);
      assert.match(logs, 'CoreDNS-1.12.1');
      assert.match(logs, /"A IN whoami\.example\. udp \d+ false \d+" NOERROR/);
    } finally {
      await client.remove({ force: true });
    }
  } finally {
    await server.remove({ force: true });
  }
});

test('the image archives are the same bytes on a rebuild: the same IDs, and nothing to load again', async () => {
  const before = (await build(['image:pause', 'image:echo'])).entries;
  const again = await build(['image:pause', 'image:echo']);
  assert.is(again.entries['image:pause']!.outcome, 'up-to-date');
  await cleanTargets({ targets: registry, requested: ['image:pause', 'image:echo'], root, outDir, yes: true });
  assert.not.ok(existsSync((before['image:pause']!.result as ImageArchive).path), 'clean removed the archive');
  const rebuilt = await build(['load:pause@worker-1', 'load:echo@worker-1']);
  assert.is(rebuilt.entries['image:pause']!.outcome, 'built');
  assert.is((rebuilt.entries['image:pause']!.result as ImageArchive).id, (before['image:pause']!.result as ImageArchive).id);
  assert.is((rebuilt.entries['image:echo']!.result as ImageArchive).id, (before['image:echo']!.result as ImageArchive).id);
  assert.is(rebuilt.entries['load:pause@worker-1']!.outcome, 'up-to-date', 'early cutoff: the same image is not loaded again');
  assert.is(rebuilt.entries['load:echo@worker-1']!.outcome, 'up-to-date');
});

test('the load command: one target per worker; an image under two tags is imported once and tagged', async () => {
  const docker = await connectDocker();
  // A second tag of the test image: the same image ID under another name, as `docker tag` makes.
  await docker.getImage(TEST_IMAGE).tag({ repo: 'harder.local/echo', tag: 'second-tag' });
  const alias = 'harder.local/echo:second-tag';
  try {
    await node.exec(['ctr', '-n', 'k8s.io', 'images', 'rm', normalizeImageRef(alias)], { allowFailure: true });
    const generated = loadCommandTargets([TEST_IMAGE, alias], podNodeTargets(config, registry));
    assert.equal(generated.map((t) => t.name), ['load:worker-1']);
    registry = [...registry, ...generated];
    const lines: string[] = [];
    const report = await runBuild({ targets: registry, requested: ['load:worker-1'], root, outDir, jobs: 2, reporter: { targetLog: (_t, line) => lines.push(line) } });
    assert.ok(report.ok, JSON.stringify(report.failures));
    const entry = report.entries['load:worker-1']!;
    assert.is(entry.outcome, 'built', 'always runs');
    const id = (await inspectImage(docker, TEST_IMAGE))!.id;
    assert.equal((entry.result as { images: unknown }).images, [{ ref: normalizeImageRef(TEST_IMAGE), id }, { ref: normalizeImageRef(alias), id }]);
    assert.ok(lines.some((l) => l.includes('tagged, not imported')), lines.join('\n'));
    assert.not.ok(lines.some((l) => l.includes('importing')), 'nothing imported: the node had the image under its first name');
    assert.is(await nodeImageId(node, alias), id);

    // Again: both names present, nothing transferred, one listing.
    const started = Date.now();
    const again = await runBuild({ targets: registry, requested: ['load:worker-1'], root, outDir, jobs: 2 });
    assert.ok(again.ok);
    console.log(`  second load of 2 names into worker-1: ${again.entries['load:worker-1']!.ms} ms (run ${Date.now() - started} ms)`);
  } finally {
    await docker.getImage(alias).remove().catch(() => {});
  }
});

test.run();
