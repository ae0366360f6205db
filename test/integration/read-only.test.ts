// Probes only read. Through the real CLI, with a node container stopped: `cluster --dry-run` and
// `--graph` change no container (Docker API: State.Status, StartedAt) and no file under output/ (the tree
// hashed before and after); `--graph` still prints its graph when no Docker engine answers; the docs'
// graph call (docs/scripts/graphs.ts) talks to no Docker at all; and the next real run starts the node
// (its build, not its probe). Own cluster (harder-t-readonly, 10.245.0.0/24, 1 control plane + 1 worker) in
// a scratch project root; its containers, volumes and network are removed by label in test.after and on exit.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { graphFromCli } from '../../docs/scripts/graphs.ts';
import { connectDocker } from '../../lib/docker/connect.ts';
import { listContainersByLabel } from '../../lib/docker/containers.ts';
import { removeClusterObjects } from '../../tasks/nodes/cleanup.ts';
import { CLUSTER_LABEL } from '../../tasks/nodes/labels.ts';
import { removeByLabelSync } from '../lib/docker-cleanup.ts';

const CLUSTER = 'harder-t-readonly';
const SIZE_FLAGS = ['--control-planes', '1', '--workers', '1'];
const WORKER = `${CLUSTER}-worker-1`;

const root = scratchProjectRoot('harder-t-readonly-');
const scratchDirs = [root];
const configFile = join(root, 'readonly-config.json');
// mergeKubeconfig: false: this test's cluster stays out of the machine's ~/.kube/config (cluster-e2e tests the merge).
writeFileSync(configFile, JSON.stringify({ clusterName: CLUSTER, nodeSubnet: '10.245.0.0/24', mergeKubeconfig: false }, null, 2));

let cleaned = false;
process.on('exit', () => {
  try {
    if (!cleaned) removeByLabelSync(`label=${CLUSTER_LABEL}=${CLUSTER}`);
  } catch {
    // Nothing more can be done on the way out; the next run's test.before removes what is left.
  }
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

type Run = { code: number; stdout: string; output: string; built: string[] };

async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, ...SIZE_FLAGS, '--config', configFile, '--plain'], {
    cwd: root,
    reject: false,
    all: true,
    timeout: 15 * 60_000,
    env: { CI: '1', NO_COLOR: '1', DOCKER_HOST, ...env },
  });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${((performance.now() - started) / 1000).toFixed(1)} s, built ${built.length}: ${built.join(' ')}\n`);
  return { code: res.exitCode ?? -1, stdout: String(res.stdout), output, built };
}

/** What a probe must not change about this cluster's containers, by name. */
async function containerStates(): Promise<Record<string, { id: string; status: string; startedAt: string; finishedAt: string; restarts: number }>> {
  const docker = await connectDocker();
  const list = await listContainersByLabel(docker, { [CLUSTER_LABEL]: CLUSTER });
  const states: Record<string, { id: string; status: string; startedAt: string; finishedAt: string; restarts: number }> = {};
  for (const c of list) {
    const info = await docker.getContainer(c.Id).inspect();
    states[info.Name.replace(/^\//, '')] = { id: info.Id, status: info.State.Status, startedAt: info.State.StartedAt, finishedAt: info.State.FinishedAt, restarts: info.RestartCount };
  }
  return states;
}

/** Every file under output/ by relative path: sha256 of its content, size and mtime. */
function outputTree(): Record<string, string> {
  const tree: Record<string, string> = {};
  const walk = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries.sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else tree[relative(root, path)] = `${createHash('sha256').update(readFileSync(path)).digest('hex')} ${st.size} ${st.mtimeMs}`;
    }
  };
  walk(join(root, 'output'));
  return tree;
}

/**
 * DOCKER_HOST for every CLI run of this file: a unix socket forwarding each connection to the real engine
 * (exec and attach streams included: bytes are piped both ways) and counting them. Closed, it is an
 * engine that does not answer, at the same address (DOCKER_HOST is part of host:preflight's key).
 */
const sockDir = mkdtempSync(join(tmpdir(), 'harder-t-readonly-sock-'));
scratchDirs.push(sockDir);
const proxyPath = join(sockDir, 'docker.sock');
const DOCKER_HOST = `unix://${proxyPath}`;
let connections = 0;
const open = new Set<Socket>();
/** The real engine, where this process's DOCKER_HOST (or the default socket) says. */
const engineAddress = process.env.DOCKER_HOST || 'unix:///var/run/docker.sock';
const connectEngine = (): Socket => {
  if (engineAddress.startsWith('unix://')) return connect({ path: engineAddress.slice('unix://'.length), allowHalfOpen: true });
  const url = new URL(engineAddress.replace(/^tcp:/, 'http:'));
  return connect({ host: url.hostname, port: Number(url.port || 2375), allowHalfOpen: true });
};
const proxy = createServer({ allowHalfOpen: true }, (client) => {
  connections++;
  const engine = connectEngine();
  for (const socket of [client, engine]) {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => (client.destroy(), engine.destroy()));
  }
  client.pipe(engine);
  engine.pipe(client);
});
const proxyUp = (): Promise<void> => {
  rmSync(proxyPath, { force: true });
  return new Promise((resolve) => proxy.listen(proxyPath, resolve));
};
/** Refuses new connections and cuts the open ones. */
const proxyDown = (): void => {
  if (proxy.listening) proxy.close();
  for (const socket of open) socket.destroy();
};

test.before(async () => {
  await removeClusterObjects(CLUSTER);
  await proxyUp();
});

test('nodes of harder-t-readonly up through the CLI', async () => {
  const run = await cli(['nodes']);
  assert.is(run.code, 0, run.output.slice(-3000));
  const states = await containerStates();
  assert.equal(Object.keys(states).sort(), [`${CLUSTER}-controller-1`, WORKER]);
  for (const [name, state] of Object.entries(states)) assert.is(state.status, 'running', name);
});

test('a node stopped by hand: cluster --dry-run and --graph change no container and no file under output/', async () => {
  const docker = await connectDocker();
  await docker.getContainer(WORKER).stop({ t: 5 });
  const containersBefore = await containerStates();
  assert.is(containersBefore[WORKER]!.status, 'exited');
  const treeBefore = outputTree();
  assert.ok(Object.keys(treeBefore).length > 0, 'output/ holds the state of the nodes run');

  const unchanged = async (after: string): Promise<void> => {
    assert.equal(await containerStates(), containersBefore, `a container changed state during ${after}`);
    assert.equal(outputTree(), treeBefore, `a file under output/ changed during ${after}`);
  };

  const dry = await cli(['cluster', '--dry-run']);
  assert.is(dry.code, 0, dry.output.slice(-3000));
  await unchanged('cluster --dry-run');
  assert.match(dry.output, new RegExp(`would build node:worker-1: .*container ${WORKER} is stopped`), dry.output.slice(-3000));
  assert.is(dry.built.length, 0, `a dry run built ${dry.built.join(' ')}`);

  const graph = await cli(['cluster', '--graph']);
  assert.is(graph.code, 0, graph.output.slice(-3000));
  await unchanged('cluster --graph');
  assert.match(graph.stdout, /^digraph /m);
  assert.match(graph.stdout, /"node:worker-1" \[[^\]]*\(stale\)/);

  // The node targets' group alone (what the nodes chapter of the docs draws).
  const nodesGraph = await cli(['--graph', 'node']);
  assert.is(nodesGraph.code, 0, nodesGraph.output.slice(-3000));
  await unchanged('--graph node');
});

test('the docs graph call talks to no Docker; --graph with no engine answering still prints the graph', async () => {
  const treeBefore = outputTree();
  // The CLI's --graph colours recorded targets by their probes: it reads the engine (the counter works).
  let before = connections;
  const probed = await cli(['--graph', 'nodes']);
  assert.is(probed.code, 0, probed.output.slice(-3000));
  assert.ok(connections > before, '--graph never reached DOCKER_HOST: the counter does not count');
  assert.match(probed.stdout, /"node:controller-1" \[[^\]]*\(up to date\)/);

  // The docs build draws from a root without output/: no record, no probe, no connection at all.
  before = connections;
  const saved = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = DOCKER_HOST;
  let dot: string;
  try {
    dot = await graphFromCli(root, ['nodes']);
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
  assert.is(connections, before, 'the docs graph call connected to DOCKER_HOST');
  // Drawn as for a fresh checkout, whatever this machine has built.
  assert.match(dot, /"node:worker-1" \[[^\]]*\(never built\)/);

  // No engine at DOCKER_HOST: the probes fail, --graph says stale and exits 0.
  proxyDown();
  try {
    const started = performance.now();
    const absent = await cli(['--graph', 'nodes']);
    assert.is(absent.code, 0, absent.output.slice(-3000));
    assert.match(absent.stdout, /^digraph /m);
    for (const name of ['host:preflight', 'node:controller-1', 'node:worker-1']) assert.match(absent.stdout, new RegExp(`"${name}" \\[[^\\]]*\\(stale\\)`), name);
    assert.ok(performance.now() - started < 60_000, `--graph without Docker took ${Math.round(performance.now() - started)} ms`);
  } finally {
    await proxyUp();
  }
  assert.equal(outputTree(), treeBefore, 'a file under output/ changed during --graph');
});

test('the next real run starts the stopped node in its build: same container, running again', async () => {
  const before = await containerStates();
  const run = await cli(['nodes']);
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.ok(run.built.includes('node:worker-1'), run.built.join(' '));
  assert.ok(!run.built.includes('node:controller-1'), run.built.join(' '));
  const after = await containerStates();
  assert.is(after[WORKER]!.id, before[WORKER]!.id, 'the stopped node was recreated instead of started');
  assert.is(after[WORKER]!.status, 'running');
  assert.equal(after[`${CLUSTER}-controller-1`], before[`${CLUSTER}-controller-1`]);
  const again = await cli(['nodes']);
  assert.is(again.code, 0, again.output.slice(-3000));
  assert.equal(again.built, [], `a second run built ${again.built.join(' ')}`);
});

test.after(async () => {
  proxyDown();
  await removeClusterObjects(CLUSTER);
  cleaned = true;
  const left = await listContainersByLabel(await connectDocker(), { [CLUSTER_LABEL]: CLUSTER });
  assert.is(left.length, 0, `left behind: ${left.map((c) => c.Names[0]).join(' ')}`);
});

test.run();
