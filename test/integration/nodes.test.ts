// Integration tests of the nodes step against the real Docker engine: images, network, node containers,
// the node access API, probes (removed/changed/restarted nodes) and the clear errors. Uses only cluster
// names starting `harder-t-nodes` and slices of 10.241.0.0/16; removes everything it made.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanTargets, runBuild, type BuildReport } from '../../lib/engine/index.ts';
import type { AnyTarget } from '../../lib/engine/target.ts';
import { defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { ipPlanTarget, planIps } from '../../tasks/net/ip-plan.ts';
import { nodesStep, type NodesStepOptions } from '../../tasks/nodes/index.ts';
import { removeClusterObjects } from '../../tasks/nodes/cleanup.ts';
import { CLUSTER_LABEL, KEY_LABEL } from '../../tasks/nodes/labels.ts';
import { NODE_IMAGE_KEY_LABEL, BASE_RECIPE_LABEL, type BaseImage, type NodeImage } from '../../tasks/images/node-image.ts';
import type { NodeContainer } from '../../tasks/nodes/containers.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { nodeHandle, NodeCommandError } from '../../lib/docker/node-access.ts';
import { NodeFileMissingError } from '../../lib/docker/errors.ts';
import { inspectImage, removeImage } from '../../lib/docker/images.ts';
import { listContainersByLabel, listVolumesByLabel } from '../../lib/docker/containers.ts';
import { listNetworksByLabel, removeNetwork } from '../../lib/docker/networks.ts';
import { ensureDockerEngine } from '../../lib/docker/ensure-engine.ts';
import { testIf } from '../lib/skip.ts';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const CLUSTER = 'harder-t-nodes-a';
const OVERLAP_CLUSTER = 'harder-t-nodes-b';
const FOREIGN_NETWORK = 'harder-t-nodes-c';
const TEST_BASE_TAG = 'harder-t-nodes-base:bookworm';
const outDirs: string[] = [];

function tempOut(): string {
  const dir = mkdtempSync(join(tmpdir(), 'harder-t-nodes-'));
  outDirs.push(dir);
  return dir;
}

function clusterConfig(name: string, subnet: string, workers = 2): ClusterConfig {
  return { ...defaultConfig, clusterName: name, nodeSubnet: subnet, nodes: defaultNodes({ controlPlanes: 1, workers }) };
}

function registry(config: ClusterConfig, options: NodesStepOptions = {}): { targets: AnyTarget[]; step: ReturnType<typeof nodesStep> } {
  const plan = ipPlanTarget(config, planIps(config));
  const step = nodesStep(config, planIps(config), { readyTimeoutMs: 90_000, ...options });
  return { targets: [plan, ...step.all], step };
}

const config = clusterConfig(CLUSTER, '10.241.10.0/24');
const outDir = tempOut();

async function build(requested: string[], options: NodesStepOptions = {}, extra: { force?: boolean; cfg?: ClusterConfig; out?: string } = {}): Promise<BuildReport> {
  const { targets } = registry(extra.cfg ?? config, options);
  return runBuild({ targets, requested, root, outDir: extra.out ?? outDir, force: extra.force, jobs: 4 });
}

function assertOk(report: BuildReport): void {
  assert.ok(report.ok, `build failed: ${report.failures.map((f) => `${f.target}: ${f.message}`).join('\n')}`);
}

function nodeResult(report: BuildReport, node: string): NodeContainer {
  return report.entries[`node:${node}`]!.result as NodeContainer;
}

function outcomes(report: BuildReport, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(report.entries).filter(([n]) => n.startsWith(prefix)).map(([n, e]) => [n, e.outcome]));
}

async function containerIds(): Promise<Record<string, string>> {
  const docker = await connectDocker();
  const list = await listContainersByLabel(docker, { [CLUSTER_LABEL]: CLUSTER });
  return Object.fromEntries(list.map((c) => [c.Names[0]!.replace(/^\//, ''), c.Id]));
}

async function cleanupAll(): Promise<void> {
  for (const name of [CLUSTER, OVERLAP_CLUSTER]) await removeClusterObjects(name).catch(() => undefined);
  const docker = await connectDocker();
  await removeNetwork(docker, FOREIGN_NETWORK).catch(() => undefined);
  await removeImage(docker, TEST_BASE_TAG, true).catch(() => undefined);
}

test.before(cleanupAll);

test.after(async () => {
  await cleanupAll();
  for (const dir of outDirs) rmSync(dir, { recursive: true, force: true });
});

test('base image: debootstrap --variant=minbase + import through the API, labelled with its recipe, reused while it exists', async () => {
  const out = tempOut();
  const options: NodesStepOptions = { baseImage: { tag: TEST_BASE_TAG, source: 'debootstrap' } };
  const first = await build(['image:base'], options, { out });
  assertOk(first);
  const base = first.entries['image:base']!.result as BaseImage;
  assert.is(base.source, 'debootstrap');
  assert.is(base.ref, TEST_BASE_TAG);
  const docker = await connectDocker();
  const info = await inspectImage(docker, TEST_BASE_TAG);
  assert.ok(info, 'the imported image exists');
  assert.is(info!.id, base.id);
  assert.ok(info!.labels[BASE_RECIPE_LABEL], 'recipe label set at import');
  // A fresh state directory reuses the image instead of running debootstrap again.
  const again = await build(['image:base'], options, { out: tempOut() });
  assertOk(again);
  assert.is((again.entries['image:base']!.result as BaseImage).id, base.id);
  assert.ok(again.entries['image:base']!.ms < 5000, `reuse took ${again.entries['image:base']!.ms} ms`);
  // Probe: removing the image makes the target stale. The base image is precious (a new one would
  // rebuild the node image and so replace every node container), so the run names the change and stops
  // instead of replacing it; --force image:base replaces it on purpose.
  await removeImage(docker, TEST_BASE_TAG, true);
  const dry = await runBuild({ targets: registry(config, options).targets, requested: ['image:base'], root, outDir: out, dryRun: true });
  assert.is(dry.entries['image:base']!.outcome, 'failed');
  assert.match(dry.entries['image:base']!.reason, /precious and would be replaced: .*no longer exists/);
  const forced = await runBuild({ targets: registry(config, options).targets, requested: ['image:base'], root, outDir: out, dryRun: true, force: true });
  assert.is(forced.entries['image:base']!.outcome, 'would-build');
});

test('node image: a real docker build FROM the base, tagged and labelled with its content key', async () => {
  const report = await build(['image:node'], {}, { force: true });
  assertOk(report);
  assert.is(report.entries['image:node']!.outcome, 'built');
  const image = report.entries['image:node']!.result as NodeImage;
  const base = report.entries['image:base']!.result as BaseImage;
  assert.is(image.baseId, base.id);
  assert.is(image.ref, `harder-node:${image.key.slice(0, 12)}`);
  const info = await inspectImage(await connectDocker(), image.ref);
  assert.is(info?.labels[NODE_IMAGE_KEY_LABEL], image.key);
  // The image stops systemd the way it wants to be stopped, and runs it as PID 1.
  const config = (await (await connectDocker()).getImage(image.ref).inspect()).Config as { StopSignal?: string; Cmd?: string[] };
  assert.is(config.StopSignal, 'SIGRTMIN+3');
  assert.equal(config.Cmd, ['/sbin/init']);
  // A second request reuses the image: up to date without a build.
  const again = await build(['image:node']);
  assert.is(again.entries['image:node']!.outcome, 'up-to-date');
});

test('nodes 1+2: containers up with the planned IPs, systemd running, every node pings every other by IP', async () => {
  const report = await build(['nodes']);
  assertOk(report);
  const plan = planIps(config);
  const docker = await connectDocker();
  for (const planned of plan.nodes) {
    const result = nodeResult(report, planned.name);
    assert.is(result.ip, planned.ip);
    assert.is(result.container, `${CLUSTER}-${planned.name}`);
    assert.is(result.role, planned.role);
    const info = await docker.getContainer(result.container).inspect();
    assert.is(info.NetworkSettings.Networks[CLUSTER]?.IPAddress, planned.ip);
    assert.is(info.Config.Hostname, planned.name);
    assert.is(info.Config.Labels[KEY_LABEL], result.key);
    assert.is(info.HostConfig.RestartPolicy?.Name, 'unless-stopped');
    const state = await nodeHandle(result.container).exec(['systemctl', 'is-system-running'], { allowFailure: true });
    assert.ok(['running', 'degraded'].includes(state.stdout.toString().trim()), `${planned.name}: ${state.stdout}`);
  }
  const network = await docker.getNetwork(CLUSTER).inspect();
  assert.is(network.IPAM?.Config?.[0]?.Subnet, '10.241.10.0/24');
  assert.is(network.Labels?.[CLUSTER_LABEL], CLUSTER);
  for (const from of plan.nodes) {
    for (const to of plan.nodes) {
      if (from === to) continue;
      const ping = await nodeHandle(`${CLUSTER}-${from.name}`).exec(['ping', '-c', '1', '-W', '2', to.ip]);
      assert.match(ping.stdout.toString(), /1 received/);
    }
  }
});

test('second run: every target up to date (probes only)', async () => {
  const started = performance.now();
  const report = await build(['nodes']);
  assertOk(report);
  for (const [name, entry] of Object.entries(report.entries)) assert.ok(['up-to-date'].includes(entry.outcome), `${name}: ${entry.outcome} (${entry.reason})`);
  assert.ok(performance.now() - started < 5000, `no-op run took ${Math.round(performance.now() - started)} ms`);
});

test('node access: exec, stdin, putFile/getFile round trips, modes, large output, NodeCommandError', async () => {
  const node = nodeHandle(`${CLUSTER}-controller-1`);
  const all = Buffer.alloc(256 * 16);
  for (let i = 0; i < all.length; i++) all[i] = i % 256;
  await node.putFile('/opt/harder-test/deep/dir/all-bytes.bin', all, 0o640);
  assert.ok((await node.getFile('/opt/harder-test/deep/dir/all-bytes.bin')).equals(all), 'binary round trip');
  const stat = await node.exec(['stat', '-c', '%a %u %g %s', '/opt/harder-test/deep/dir/all-bytes.bin']);
  assert.is(stat.stdout.toString().trim(), `640 0 0 ${all.length}`);
  // Writing into an existing directory leaves that directory's mode alone.
  const etcBefore = (await node.exec(['stat', '-c', '%a', '/etc'])).stdout.toString();
  await node.putFile('/etc/harder-test.conf', 'key = "value"\n');
  assert.is((await node.exec(['stat', '-c', '%a', '/etc'])).stdout.toString(), etcBefore);
  assert.is((await node.getFile('/etc/harder-test.conf')).toString(), 'key = "value"\n');
  assert.is((await node.exec(['stat', '-c', '%a', '/etc/harder-test.conf'])).stdout.toString().trim(), '644');
  await node.putFile('/usr/local/bin/harder-hello', '#!/bin/sh\necho "hello $1"\n', 0o755);
  assert.is((await node.exec(['harder-hello', 'node'])).stdout.toString(), 'hello node\n');
  // Symlinks are followed by getFile.
  await node.exec(['ln', '-sf', '../harder-test.conf', '/etc/systemd/harder-link']);
  assert.is((await node.getFile('/etc/systemd/harder-link')).toString(), 'key = "value"\n');
  // 5 MB of output, stdout and stderr kept apart.
  const big = await node.exec(['sh', '-c', 'head -c 5000000 /dev/zero | tr "\\0" "x"; echo err >&2']);
  assert.is(big.stdout.length, 5_000_000);
  assert.ok(big.stdout.every((b) => b === 0x78));
  assert.is(big.stderr.toString(), 'err\n');
  // Several MB of binary stdin, checked by hash inside the node.
  const input = Buffer.alloc(6 * 1024 * 1024);
  for (let i = 0; i < input.length; i++) input[i] = (i * 31 + (i >> 8)) % 256;
  const sum = await node.exec(['sha256sum'], { stdin: input });
  assert.is(sum.stdout.toString().split(' ')[0], createHash('sha256').update(input).digest('hex'));
  const cat = await node.exec(['cat'], { stdin: all });
  assert.ok(cat.stdout.equals(all), 'stdin → stdout binary round trip');
  // stdin from a stream (what image loads use): 64 chunks of 64 KiB.
  const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(65536, i));
  const streamed = await node.exec(['wc', '-c'], { stdin: Readable.from(chunks) });
  assert.is(streamed.stdout.toString().trim(), String(64 * 65536));
  // Cancelling: the call rejects promptly.
  const cancelStarted = performance.now();
  const cancelled = await node.exec(['sleep', '30'], { signal: AbortSignal.timeout(300) }).then(
    () => false,
    () => true,
  );
  assert.ok(cancelled, 'exec rejected on abort');
  assert.ok(performance.now() - cancelStarted < 5000);
  await node.exec(['pkill', '-f', 'sleep 30'], { allowFailure: true });
  // env and systemctl.
  assert.is((await node.exec(['sh', '-c', 'echo "$A-$B"'], { env: { A: 'one', B: 'two words' } })).stdout.toString(), 'one-two words\n');
  assert.is((await node.systemctl('is-active', 'containerd')).stdout.toString().trim(), 'active');
  // Non-zero exit: NodeCommandError with its fields; allowFailure returns instead.
  try {
    await node.exec(['sh', '-c', 'echo to-stdout; echo first >&2; echo last-line >&2; exit 7']);
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.instance(error, NodeCommandError);
    const e = error as NodeCommandError;
    assert.is(e.exitCode, 7);
    assert.is(e.node, `${CLUSTER}-controller-1`);
    assert.equal(e.argv, ['sh', '-c', 'echo to-stdout; echo first >&2; echo last-line >&2; exit 7']);
    assert.is(e.stderr, 'first\nlast-line\n');
    assert.match(e.message, /exited 7:\nfirst\nlast-line$/);
    assert.equal(e.tail, ['first', 'last-line']);
  }
  const soft = await node.exec(['false'], { allowFailure: true });
  assert.is(soft.exitCode, 1);
  try {
    await node.getFile('/does/not/exist');
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.instance(error, NodeFileMissingError);
    assert.match((error as Error).message, /\/does\/not\/exist does not exist/);
  }
});

test('a container removed by hand is recreated alone; the others keep their container IDs', async () => {
  const before = await containerIds();
  const docker = await connectDocker();
  await docker.getContainer(`${CLUSTER}-worker-1`).remove({ force: true });
  const report = await build(['nodes']);
  assertOk(report);
  assert.equal(outcomes(report, 'node:'), { 'node:controller-1': 'up-to-date', 'node:worker-1': 'built', 'node:worker-2': 'up-to-date' });
  assert.match(report.entries['node:worker-1']!.reason, /does not exist/);
  const after = await containerIds();
  assert.is(after[`${CLUSTER}-controller-1`], before[`${CLUSTER}-controller-1`]);
  assert.is(after[`${CLUSTER}-worker-2`], before[`${CLUSTER}-worker-2`]);
  assert.is.not(after[`${CLUSTER}-worker-1`], before[`${CLUSTER}-worker-1`]);
  assert.is(nodeResult(report, 'worker-1').ip, '10.241.10.20');
});

test("a change to one node's inputs recreates only that node", async () => {
  const before = await containerIds();
  const options: NodesStepOptions = { nodeExtras: { 'worker-2': { env: { HARDER_TEST: 'changed' }, memoryBytes: 768 * 1024 * 1024 } } };
  const report = await build(['nodes'], options);
  assertOk(report);
  assert.equal(outcomes(report, 'node:'), { 'node:controller-1': 'up-to-date', 'node:worker-1': 'up-to-date', 'node:worker-2': 'built' });
  const after = await containerIds();
  assert.is(after[`${CLUSTER}-controller-1`], before[`${CLUSTER}-controller-1`]);
  assert.is(after[`${CLUSTER}-worker-1`], before[`${CLUSTER}-worker-1`]);
  assert.is.not(after[`${CLUSTER}-worker-2`], before[`${CLUSTER}-worker-2`]);
  const info = await (await connectDocker()).getContainer(`${CLUSTER}-worker-2`).inspect();
  assert.ok(info.Config.Env.includes('HARDER_TEST=changed'));
  assert.is(info.HostConfig.Memory, 768 * 1024 * 1024);
  // And back: the same again recreates worker-2 only.
  const back = await build(['nodes']);
  assertOk(back);
  assert.equal(outcomes(back, 'node:'), { 'node:controller-1': 'up-to-date', 'node:worker-1': 'up-to-date', 'node:worker-2': 'built' });
});

test('a node dropped from the config is never removed as a side effect: every container and volume stays (removal is its own remove:node step, see node-removal.test.ts)', async () => {
  const before = await containerIds();
  const smaller = clusterConfig(CLUSTER, '10.241.10.0/24', 1);
  const report = await build(['nodes'], {}, { cfg: smaller });
  assertOk(report);
  assert.equal(await containerIds(), before, 'no container removed or replaced');
  const volumes = await listVolumesByLabel(await connectDocker(), { [CLUSTER_LABEL]: CLUSTER });
  assert.ok(volumes.includes(`${CLUSTER}-worker-2-containerd`), 'worker-2 keeps its containerd volume');
  // Back to two workers: worker-2 is the same container, with its planned address.
  const back = await build(['nodes']);
  assertOk(back);
  assert.is(nodeResult(back, 'worker-2').ip, '10.241.10.21');
  assert.equal(await containerIds(), before, 'still the same containers');
});

test('docker restart of a node: the next run finds everything up to date and systemd running', async () => {
  const before = await containerIds();
  const docker = await connectDocker();
  const started = performance.now();
  await docker.getContainer(`${CLUSTER}-controller-1`).restart();
  // SIGRTMIN+3 makes systemd shut down at once; with SIGTERM Docker would wait its 10 s timeout.
  assert.ok(performance.now() - started < 9000, `restart took ${Math.round(performance.now() - started)} ms`);
  const report = await build(['nodes']);
  assertOk(report);
  for (const [name, outcome] of Object.entries(outcomes(report, ''))) assert.is(outcome, 'up-to-date', name);
  assert.equal(await containerIds(), before);
  const state = await nodeHandle(`${CLUSTER}-controller-1`).exec(['systemctl', 'is-system-running'], { allowFailure: true });
  assert.ok(['running', 'degraded'].includes(state.stdout.toString().trim()));
});

test('a stopped node is reported by its probe and started by its build: same container, nothing else runs', async () => {
  const docker = await connectDocker();
  const before = await containerIds();
  await docker.getContainer(`${CLUSTER}-worker-1`).stop();
  const report = await build(['nodes']);
  assertOk(report);
  assert.is(report.entries['node:worker-1']!.outcome, 'built');
  assert.match(report.entries['node:worker-1']!.reason ?? '', /is stopped/);
  for (const [name, entry] of Object.entries(report.entries)) if (name !== 'node:worker-1' && !entry.alias) assert.is(entry.outcome, 'up-to-date', name);
  const info = await docker.getContainer(`${CLUSTER}-worker-1`).inspect();
  assert.ok(info.State.Running);
  assert.equal(await containerIds(), before);
});

// Restarting dockerd disturbs everyone using it, so it runs in CI (its own machine) or on request;
// otherwise it is counted as skipped, with that reason, in the runner's summary.
const dockerdRestart = process.env.CI === 'true' || process.env.HARDER_TEST_DOCKERD_RESTART === '1';
testIf(dockerdRestart, 'runs only with CI=true or HARDER_TEST_DOCKERD_RESTART=1: it disturbs other users of this dockerd')('dockerd restart: nodes come back by their restart policy; the next run finds everything up to date', async () => {
  const before = await containerIds();
  const pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim());
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 600; i++) {
    try {
      process.kill(pid, 0);
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      break;
    }
  }
  await ensureDockerEngine({ log: (line) => console.log(`  ${line}`) });
  const report = await build(['nodes']);
  assertOk(report);
  for (const [name, outcome] of Object.entries(outcomes(report, ''))) assert.is(outcome, 'up-to-date', name);
  assert.equal(await containerIds(), before);
  for (const node of ['controller-1', 'worker-1', 'worker-2']) {
    const state = await nodeHandle(`${CLUSTER}-${node}`).exec(['systemctl', 'is-system-running'], { allowFailure: true });
    assert.ok(['running', 'degraded'].includes(state.stdout.toString().trim()), node);
  }
});

test('an overlapping subnet is refused with a clear error naming the other network', async () => {
  const other = clusterConfig(OVERLAP_CLUSTER, '10.241.10.128/25');
  const report = await build(['net:network'], {}, { cfg: other, out: tempOut() });
  assert.not.ok(report.ok);
  const failure = report.failures.find((f) => f.target === 'net:network');
  assert.ok(failure, 'net:network failed');
  assert.match(failure!.message, `subnet 10.241.10.128/25 for Docker network ${OVERLAP_CLUSTER} overlaps ${CLUSTER} (10.241.10.0/24)`);
  assert.match(failure!.hint ?? '', /nodeSubnet/);
  assert.equal(await listNetworksByLabel(await connectDocker(), { [CLUSTER_LABEL]: OVERLAP_CLUSTER }), []);
});

test('a network of the same name that is not ours is refused', async () => {
  const docker = await connectDocker();
  await docker.createNetwork({ Name: FOREIGN_NETWORK, Driver: 'bridge', IPAM: { Driver: 'default', Config: [{ Subnet: '10.241.30.0/24' }] } });
  const report = await build(['net:network'], {}, { cfg: clusterConfig(FOREIGN_NETWORK, '10.241.30.0/24'), out: tempOut() });
  assert.not.ok(report.ok);
  assert.match(report.failures[0]!.message, `Docker network ${FOREIGN_NETWORK} already exists and is not ours`);
  // Still there: we never remove what we did not create.
  assert.ok(await docker.getNetwork(FOREIGN_NETWORK).inspect());
  await removeNetwork(docker, FOREIGN_NETWORK);
});

test('Docker down: one clear error naming the address and how to start Docker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'harder-t-nodes-dead-'));
  outDirs.push(dir);
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = `unix://${dir}/dead.sock`;
  try {
    const report = await build(['nodes'], {}, { out: tempOut() });
    assert.not.ok(report.ok);
    const failure = report.failures.find((f) => f.target === 'host:preflight');
    assert.ok(failure, `host:preflight failed: ${JSON.stringify(report.failures)}`);
    assert.match(failure!.message, `Docker is not running: no engine answers at unix://${dir}/dead.sock`);
    // The hint names the one reason the preflight will not set Docker up itself: DOCKER_HOST points elsewhere.
    assert.match(failure!.hint ?? '', `DOCKER_HOST points at unix://${dir}/dead.sock: start the engine that listens there, or unset DOCKER_HOST`);
    assert.is(report.entries['node:controller-1']!.outcome, 'skipped');
    // The helpers give the same error when called directly.
    try {
      await connectDocker();
      assert.unreachable('should have thrown');
    } catch (error) {
      assert.match((error as Error).message, /Docker is not running/);
    }
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
});

test('clean:nodes removes the containers, volumes and network labelled with the cluster, nothing else', async () => {
  const docker = await connectDocker();
  const { targets } = registry(config);
  const report = await cleanTargets({ targets, requested: ['nodes'], root, outDir });
  assert.ok(report.ok, JSON.stringify(report.failures));
  const labels = { [CLUSTER_LABEL]: CLUSTER };
  assert.equal(await listContainersByLabel(docker, labels), []);
  assert.equal(await listVolumesByLabel(docker, labels), []);
  assert.equal(await listNetworksByLabel(docker, labels), []);
  // The shared node image stays.
  const dry = await runBuild({ targets, requested: ['nodes'], root, outDir, dryRun: true });
  assert.is(dry.entries['node:worker-1']!.outcome, 'would-build');
});

test.run();
