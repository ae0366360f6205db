// Several clusters side by side from one checkout (issue 12, `--name`), through the real CLI and the real
// Docker engine, nodes only (no Kubernetes): harder-t-side-a and harder-t-side-b, one control-plane node each,
// in one scratch project root. Both come up with their own state directory, Docker network, allocated subnet
// and containers; a plain rerun of each builds nothing; an explicit subnet overlapping a's network is refused
// before anything runs; `clean:nodes --name harder-t-side-a` leaves b's containers, network and state as they
// were. Uses only those two cluster names; removes their containers, volumes and networks (by label) at the end.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { removeByLabelSync } from '../lib/docker-cleanup.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { listContainersByLabel } from '../../lib/docker/containers.ts';
import { inspectNetwork, listNetworksByLabel, subnetsOf, subnetsOverlap } from '../../lib/docker/networks.ts';
import { removeClusterObjects } from '../../tasks/nodes/cleanup.ts';
import { CLUSTER_LABEL } from '../../tasks/nodes/labels.ts';

const A = 'harder-t-side-a';
const B = 'harder-t-side-b';

const root = scratchProjectRoot('harder-t-side-');
// One control-plane node per cluster: the cheapest spec the checker accepts (--workers wants 1 or more).
const specFile = join(root, 'side.json');
writeFileSync(specFile, JSON.stringify({ nodes: [{ name: 'controller-1', role: 'control-plane' }] }));

let cleaned = false;
process.on('exit', () => {
  try {
    if (!cleaned) for (const name of [A, B]) removeByLabelSync(`label=${CLUSTER_LABEL}=${name}`);
  } catch {
    // Nothing more can be done on the way out; the next run's test.before removes what is left.
  }
  rmSync(root, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

type Run = { code: number; stdout: string; output: string; built: string[] };

async function cli(args: string[]): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--plain'], { cwd: root, reject: false, all: true, timeout: 10 * 60_000, env: { CI: '1', NO_COLOR: '1' } });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${((performance.now() - started) / 1000).toFixed(1)} s, built ${built.length}: ${built.join(' ')}\n`);
  return { code: res.exitCode ?? -1, stdout: String(res.stdout), output, built };
}

const stateDir = (name: string): string => join(root, 'output', 'clusters', name);
const allocated = (name: string): string => (JSON.parse(readFileSync(join(stateDir(name), 'spec.json'), 'utf8')) as { allocated: { nodeSubnet: string } }).allocated.nodeSubnet;

/** Each of a cluster's containers by name: id, state and start time (what a touch would change). */
async function containers(name: string): Promise<Record<string, string>> {
  const docker = await connectDocker();
  const list = await listContainersByLabel(docker, { [CLUSTER_LABEL]: name });
  const out: Record<string, string> = {};
  for (const c of list) {
    const info = await docker.getContainer(c.Id).inspect();
    out[info.Name.replace(/^\//, '')] = `${info.Id} ${info.State.Status} ${info.State.StartedAt}`;
  }
  return out;
}

/** Every file under a directory: sha256 of its content and its mtime. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const path = join(d, entry);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else out[relative(dir, path)] = `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${st.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

/** Every Docker network's IPv4 subnets by name, as the engine lists them. */
async function networkSubnets(): Promise<Record<string, string[]>> {
  const docker = await connectDocker();
  const out: Record<string, string[]> = {};
  for (const n of await docker.listNetworks()) out[n.Name] = subnetsOf(n as Parameters<typeof subnetsOf>[0]);
  return out;
}

let others: Record<string, string[]> = {};

test.before(async () => {
  for (const name of [A, B]) await removeClusterObjects(name);
  others = await networkSubnets();
});

test('two named clusters come up side by side: own state directory, network, subnet and containers', async () => {
  for (const name of [A, B]) {
    const run = await cli(['nodes', '--name', name, '--config', specFile]);
    assert.is(run.code, 0, run.output);
    assert.match(run.output, `allocated to cluster ${name}`);
    assert.ok(run.built.includes('node:controller-1') && run.built.includes('net:network'), run.built.join(' '));
  }
  const subnets: Record<string, string> = { [A]: allocated(A), [B]: allocated(B) };
  assert.not.ok(subnetsOverlap(subnets[A]!, subnets[B]!), `${subnets[A]} and ${subnets[B]}`);
  for (const name of [A, B]) {
    // Its subnet overlaps no network that was there before (the default cluster's and anyone else's).
    for (const [other, list] of Object.entries(others)) for (const s of list) assert.not.ok(subnetsOverlap(s, subnets[name]!), `${name}'s ${subnets[name]} overlaps ${other} (${s})`);
    const network = await inspectNetwork(undefined, name);
    assert.ok(network, `network ${name}`);
    assert.is(network!.Labels?.[CLUSTER_LABEL], name);
    assert.equal(network!.IPAM?.Config?.map((c) => c.Subnet), [subnets[name]]);
    const docker = await connectDocker();
    const info = await docker.getContainer(`${name}-controller-1`).inspect();
    assert.is(info.State.Status, 'running');
    const ip = info.NetworkSettings.Networks[name]?.IPAddress ?? '';
    assert.ok(subnetsOverlap(`${ip}/32`, subnets[name]!), `${name}-controller-1 has ${ip}, outside ${subnets[name]}`);
    assert.ok(existsSync(join(stateDir(name), '.harder', 'state.log')), `${name}'s journal in its own state directory`);
  }
  // Neither touched the default cluster's state.
  assert.not.ok(existsSync(join(root, 'output', '.harder')), 'no journal in output/ itself');
  assert.not.ok(existsSync(join(root, 'output', 'spec.json')));
});

test('a plain rerun of each builds nothing; spec --name shows the recorded allocation', async () => {
  for (const name of [A, B]) {
    const run = await cli(['nodes', '--name', name, '--config', specFile]);
    assert.is(run.code, 0, run.output);
    assert.equal(run.built, []);
    assert.match(run.output, /^0 built, \d+ up to date, 0 failed/m);
    assert.not.match(run.output, 'repaired');
    assert.not.match(run.output, 'allocated to');
  }
  const spec = await cli(['spec', '--name', B, '--config', specFile]);
  assert.is(spec.code, 0, spec.output);
  assert.match(spec.stdout, `cluster: ${B} (state in output/clusters/${B}/)`);
  const line = spec.stdout.split('\n').find((l) => l.trimStart().startsWith('nodeSubnet ')) ?? '';
  assert.match(line, JSON.stringify(allocated(B)));
  assert.match(line, `← allocated, recorded in output/clusters/${B}/spec.json`);
});

test('an explicit nodeSubnet overlapping the other cluster\'s network is refused up front, naming the field and that cluster', async () => {
  const before = { containers: await containers(B), state: tree(stateDir(B)) };
  const overlap = join(root, 'overlap.json');
  writeFileSync(overlap, JSON.stringify({ nodes: [{ name: 'controller-1', role: 'control-plane' }], nodeSubnet: allocated(A) }));
  const run = await cli(['nodes', '--name', B, '--config', overlap]);
  assert.is(run.code, 2, run.output);
  assert.match(run.output, `overlap.json: nodeSubnet: ${allocated(A)} of cluster ${B} overlaps cluster ${A}`);
  assert.equal(run.built, []);
  assert.equal(await containers(B), before.containers);
  assert.equal(tree(stateDir(B)), before.state);
});

test('clean:nodes --name harder-t-side-a removes a\'s containers and network and leaves b\'s containers, network and state untouched', async () => {
  const docker = await connectDocker();
  const before = { containers: await containers(B), network: (await inspectNetwork(undefined, B))!.Id, state: tree(stateDir(B)) };
  assert.ok(Object.keys(before.containers).length === 1, JSON.stringify(before.containers));
  const run = await cli(['clean:nodes', '--yes', '--name', A, '--config', specFile]);
  assert.is(run.code, 0, run.output);
  assert.match(run.output, `removed container ${A}-controller-1`);
  assert.not.match(run.output, B);
  assert.equal(await listContainersByLabel(docker, { [CLUSTER_LABEL]: A }), []);
  assert.equal(await listNetworksByLabel(docker, { [CLUSTER_LABEL]: A }), []);
  assert.equal(await containers(B), before.containers);
  assert.is((await inspectNetwork(undefined, B))?.Id, before.network);
  assert.equal(tree(stateDir(B)), before.state);
  // And b still needs nothing.
  const again = await cli(['nodes', '--name', B, '--config', specFile]);
  assert.is(again.code, 0, again.output);
  assert.equal(again.built, []);
});

test.after(async () => {
  for (const name of [A, B]) await removeClusterObjects(name);
  cleaned = true;
  const docker = await connectDocker();
  for (const name of [A, B]) {
    assert.equal(await listContainersByLabel(docker, { [CLUSTER_LABEL]: name }), []);
    assert.equal(await listNetworksByLabel(docker, { [CLUSTER_LABEL]: name }), []);
  }
});

test.run();
