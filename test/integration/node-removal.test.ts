// Removing a worker from the config, through the real CLI on a 1+3 cluster (harder-t-remove, 10.246.0.0/24): refused without --yes, listed by --dry-run, then drained (a PDB-guarded NodePort workload keeps answering), Node deleted, container and volume gone; a plain run then builds nothing, and adding the worker back runs only its own targets. Then, on the same cluster, `logs` (the bundle of journals, kubectl, Docker) healthy and with the control plane stopped.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { get, requestLoop } from '../lib/request-loop.ts';
import { echoWorkload } from '../lib/echo-workload.ts';
import { until } from '../lib/until.ts';
import { cleanUpOnExit, removeByLabelSync } from '../lib/docker-cleanup.ts';
import { noAddons } from '../../tasks/addons/spec.ts';

const CLUSTER = 'harder-t-remove';
const LABEL = `label=harder.cluster=${CLUSTER}`;
const NS = 'harder-t-remove';
const APP = 'remove-echo';
const ALL_NODES = [
  { name: 'controller-1', role: 'control-plane' },
  { name: 'worker-1', role: 'worker' },
  { name: 'worker-2', role: 'worker' },
  { name: 'worker-3', role: 'worker' },
];
// mergeKubeconfig: false: this test's cluster stays out of the machine's ~/.kube/config (cluster-e2e tests the merge).
const baseConfig = { clusterName: CLUSTER, nodeSubnet: '10.246.0.0/24', binarySource: 'go', mergeKubeconfig: false, apiHostPort: 7246, addons: noAddons() };

const root = scratchProjectRoot('harder-t-remove-');
const configFile = join(root, 'remove-config.json');
const kubeconfig = join(root, 'output/kubeconfig/admin.kubeconfig');
const setNodes = (names: string[]) => writeFileSync(configFile, JSON.stringify({ ...baseConfig, nodes: ALL_NODES.filter((n) => names.includes(n.name)) }, null, 2));
setNodes(ALL_NODES.map((n) => n.name));

const exitCleanup = cleanUpOnExit(LABEL, [root]);

type Run = { code: number; output: string; built: string[] };

async function cli(...args: string[]): Promise<Run> {
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '-j', '6'], { cwd: root, reject: false, all: true, timeout: 30 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode}, built ${built.length}: ${built.join(' ')}\n${output.split('\n').filter((l) => /✗|would remove|remove:node|built, /.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built };
}

function kubectlPath(): string {
  const cache = process.env.HARDER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/harder');
  const built = join(cache, 'bin/v1.34.4/go/kubectl');
  return existsSync(built) ? built : 'kubectl';
}

async function kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  const res = await execa(kubectlPath(), ['--kubeconfig', kubeconfig, ...args], { reject: false, timeout: 180_000, input });
  return { code: res.exitCode ?? -1, out: `${res.stdout}${res.stderr ? `\n${res.stderr}` : ''}`.trim() };
}

type NodeItem = { metadata: { name: string }; spec: { unschedulable?: boolean }; status: { conditions: { type: string; status: string }[] } };
async function nodes(): Promise<NodeItem[]> {
  const res = await kubectl(['get', 'nodes', '-o', 'json']);
  return res.code === 0 ? (JSON.parse(res.out) as { items: NodeItem[] }).items : [];
}
const isReady = (n: NodeItem) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

async function waitReady(expected: string[], timeoutMs: number): Promise<void> {
  const started = Date.now();
  let seen = '';
  while (Date.now() - started < timeoutMs) {
    const items = await nodes();
    seen = items.map((n) => `${n.metadata.name}=${isReady(n) ? 'Ready' : 'NotReady'}`).join(' ');
    if (expected.every((name) => items.some((n) => n.metadata.name === name && isReady(n)))) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`nodes not Ready after ${timeoutMs / 1000} s: ${seen}`);
}

async function docker(...args: string[]): Promise<{ code: number; out: string }> {
  const res = await execa('docker', args, { reject: false });
  return { code: res.exitCode ?? -1, out: String(res.stdout).trim() };
}

async function podNodes(): Promise<string[]> {
  const res = await kubectl(['-n', NS, 'get', 'pods', '-l', `app=${APP}`, '-o', 'jsonpath={range .items[*]}{.spec.nodeName}{" "}{.status.phase}{"\\n"}{end}']);
  return res.out.split('\n').filter((l) => l.endsWith(' Running')).map((l) => l.split(' ')[0]!).sort();
}

const W3 = `${CLUSTER}-worker-3`;
let nodePortUrl = '';

test.before(() => removeByLabelSync(LABEL));

test('a 1+3 cluster from nothing, with the echo image on every worker', async () => {
  const run = await cli('cluster', 'load:echo@worker-1', 'load:echo@worker-2', 'load:echo@worker-3');
  assert.is(run.code, 0, run.output.slice(-3000));
  await waitReady(['worker-1', 'worker-2', 'worker-3'], 120_000);
});

test('a 2-replica Deployment with a PDB behind a NodePort: one pod on worker-3, answering from worker-1', async () => {
  assert.is((await kubectl(['cordon', 'worker-1'])).code, 0);
  const applied = await kubectl(['apply', '-f', '-'], echoWorkload({ namespace: NS, app: APP, preStopSleepS: 5 }));
  assert.is(applied.code, 0, applied.out);
  const rollout = await kubectl(['-n', NS, 'rollout', 'status', `deployment/${APP}`, '--timeout=150s']);
  assert.is(rollout.code, 0, rollout.out);
  assert.is((await kubectl(['uncordon', 'worker-1'])).code, 0);
  assert.equal(await podNodes(), ['worker-2', 'worker-3']);
  const port = (await kubectl(['-n', NS, 'get', 'service', APP, '-o', 'jsonpath={.spec.ports[0].nodePort}'])).out;
  const ip = (await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${CLUSTER}").IPAddress}}`, `${CLUSTER}-worker-1`)).out;
  nodePortUrl = `http://${ip}:${port}/`;
  await until(`${nodePortUrl} answers`, 90_000, async () => (await get(nodePortUrl, 2000)) || undefined);
});

test('worker-3 dropped from the config: the run without --yes refuses, naming it, and changes nothing', async () => {
  setNodes(['controller-1', 'worker-1', 'worker-2']);
  const idBefore = (await docker('inspect', '-f', '{{.Id}}', W3)).out;
  const run = await cli('cluster');
  assert.is(run.code, 1, run.output.slice(-2000));
  assert.match(run.output, /the run would remove harder-t-remove-worker-3 \(node worker-3\)/);
  assert.match(run.output, /run again with --yes/);
  assert.equal(run.built, []);
  assert.is((await docker('inspect', '-f', '{{.Id}} {{.State.Running}}', W3)).out, `${idBefore} true`);
  const w3 = (await nodes()).find((n) => n.metadata.name === 'worker-3');
  assert.ok(w3 && isReady(w3) && !w3.spec.unschedulable, 'worker-3 is still a Ready, schedulable Node');
  assert.equal(await podNodes(), ['worker-2', 'worker-3']);
});

test('--dry-run lists the removal; --explain and --graph show it as its own target', async () => {
  const dry = await cli('cluster', '--dry-run');
  assert.is(dry.code, 0, dry.output.slice(-2000));
  assert.match(dry.output, /would remove harder-t-remove-worker-3 \(node worker-3\)/);
  assert.match(dry.output, /remove:node:worker-3/);
  const graph = await cli('cluster', '--graph');
  assert.is(graph.code, 0);
  assert.match(graph.output, /"remove:node:worker-3"/);
  assert.ok((await docker('inspect', '-f', '{{.State.Running}}', W3)).out === 'true');
});

test('with --yes: drained without a failed request, Node deleted, container and volume gone', async () => {
  const loop = requestLoop(nodePortUrl);
  const run = await cli('cluster', '--yes');
  const counts = await loop.stop('cluster --yes (worker-3 drained and removed)');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.ok(run.built.includes('remove:node:worker-3'), run.built.join(' '));
  assert.match(run.output, /draining worker-3/);
  assert.is(counts.failures, 0, `${counts.failures} of ${counts.requests} requests failed`);
  assert.not.ok((await nodes()).some((n) => n.metadata.name === 'worker-3'), 'kubectl get nodes still lists worker-3');
  assert.is.not((await docker('inspect', W3)).code, 0, 'container still exists');
  assert.is.not((await docker('volume', 'inspect', `${W3}-containerd`)).code, 0, 'volume still exists');
  assert.equal(await podNodes(), ['worker-1', 'worker-2']);
});

test('a plain run then builds nothing', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-2000));
  assert.equal(run.built, []);
  assert.not.match(run.output, /remove:node/);
});

test('adding worker-3 back runs only its own targets', async () => {
  setNodes(ALL_NODES.map((n) => n.name));
  const idsBefore = (await docker('ps', '-q', '--no-trunc', '--filter', LABEL)).out.split('\n').sort();
  const run = await cli('cluster');
  const built = run.built;
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.ok(built.includes('node:worker-3'), built.join(' '));
  // The IP plan lists every node, so it is redone (the other nodes and the network take only their own
  // addresses as inputs, so they stay up to date); others' pod routes gain worker-3's; worker-3's units are
  // ordered after the new gates on worker-2 (rollout:worker-2:<unit>, tasks/cluster/rollout.ts), made now.
  const foreign = built.filter((t) => !t.includes('worker-3') && !/^(net:plan|install:[\w-]+:pod-routes-unit|unit:[\w-]+:pod-routes|rollout:worker-2:(containerd|kubelet|kube-proxy)|cluster:[\w-]+)$/.test(t));
  assert.equal(foreign, [], `targets of other nodes ran: ${foreign.join(' ')}`);
  const idsAfter = (await docker('ps', '-q', '--no-trunc', '--filter', LABEL)).out.split('\n');
  for (const id of idsBefore) assert.ok(idsAfter.includes(id), `container ${id.slice(0, 12)} was replaced`);
  await waitReady(['worker-1', 'worker-2', 'worker-3'], 120_000);
});

/** `logs` through the real CLI: its output, the bundle folder it names and every file in it. */
async function logsBundle(): Promise<{ run: Run; dir: string; files: string[]; ms: number }> {
  const started = Date.now();
  const run = await cli('logs');
  const ms = Date.now() - started;
  process.stdout.write(`${run.output.trim()}\n(logs took ${(ms / 1000).toFixed(1)} s)\n`);
  const shown = /^logs: (\S+)\/ — /m.exec(run.output)?.[1];
  assert.ok(shown, `logs printed no bundle folder:\n${run.output}`);
  const dir = join(root, shown);
  const walk = (at: string): string[] => readdirSync(at, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(at, e.name)) : [relative(dir, join(at, e.name))]));
  return { run, dir, files: walk(dir).sort(), ms };
}

/** What `tar tzf` lists in the archive beside the folder, without the folder's own name. */
async function archived(dir: string): Promise<string[]> {
  const listed = await execa('tar', ['tzf', `${dir}.tar.gz`]);
  return listed.stdout.split('\n').filter(Boolean).map((p) => p.slice(basename(dir).length + 1)).sort();
}

test('logs on the healthy cluster: journals, kubectl, iptables, crictl, Docker and the last run, also in the .tar.gz', async () => {
  // The host-built crictl (cached), which logs streams into nodes that have none.
  assert.is((await cli('bin:crictl')).code, 0);
  const { run, dir, files } = await logsBundle();
  assert.is(run.code, 0, run.output);
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  assert.is(read('MISSING.txt'), 'Everything was collected.\n');
  assert.match(read('nodes/worker-1/journal/kubelet.log'), /Successfully registered node.*worker-1/);
  assert.match(read('nodes/controller-1/journal/kube-apiserver.log'), /Serving securely/);
  assert.match(read('cluster/get-all.txt'), /^kube-system\s+pod\/coredns-\S+\s+1\/1\s+Running/m);
  assert.match(read('nodes/worker-1/iptables-save.txt'), /^:KUBE-SERVICES /m);
  assert.match(read('nodes/worker-1/ip-route.txt'), /10\.246\.0\.0\/24 dev eth0/);
  const pods = ['worker-1', 'worker-2'].map((w) => read(`nodes/${w}/crictl-pods.txt`)).join('\n');
  assert.match(pods, /remove-echo-\S+\s+harder-t-remove/);
  assert.ok(files.some((f) => /^nodes\/worker-\d\/pod-logs\/harder-t-remove_remove-echo-[^/]+\/echo\/0\.log$/.test(f)), files.join(' '));
  assert.ok(files.some((f) => /^cluster\/pod-logs\/kube-system\/coredns-.*\.log$/.test(f)), files.join(' '));
  assert.is((JSON.parse(read(`docker/inspect/${CLUSTER}-worker-1.json`)) as { State: { Running: boolean } }).State.Running, true);
  // The last build run was the bin:crictl above: its header, its lines and its summary.
  assert.match(read('last-run.log'), /^# npx tsx tasks\.ts bin:crictl --config [^\n]+\n# started [^\n]+\n[^]*\n\d+ built, \d+ up to date, 0 failed in /);
  assert.equal(await archived(dir), files);
});

test('logs with the control plane stopped: exit 0, the workers collected, what needs the apiserver or controller-1 named with why', async () => {
  const controller = `${CLUSTER}-controller-1`;
  assert.is((await docker('stop', controller)).code, 0);
  try {
    const { run, dir, files } = await logsBundle();
    assert.is(run.code, 0, run.output);
    for (const file of ['nodes/worker-1/journal/kubelet.log', 'nodes/worker-1/iptables-save.txt', 'nodes/worker-2/crictl-ps.txt', `docker/inspect/${controller}.json`]) assert.ok(files.includes(file), `${file} missing: ${files.join(' ')}`);
    assert.not.ok(files.some((f) => f.startsWith('nodes/controller-1/') || f.startsWith('cluster/')), files.join(' '));
    // Docker still tells what the stopped node is.
    assert.is((JSON.parse(readFileSync(join(dir, `docker/inspect/${controller}.json`), 'utf8')) as { State: { Running: boolean } }).State.Running, false);
    assert.match(run.output, new RegExp(`\\n {4}controller-1: systemctl is-system-running: ${controller}: container is not running .*\\(and the \\d+ items that need it\\)(\\n|$)`));
    // The apiserver's address is gone with its container: kubectl gives up at its --request-timeout.
    // The admin kubeconfig goes through the API endpoint (HAProxy): with no apiserver behind it, the
    // endpoint accepts and closes (EOF, until kubectl's timeout) instead of refusing the connection.
    assert.match(run.output, /\n {4}kubectl version: `kubectl .*` exited 1: .*(Unable to connect to the server|refused|no route to host|EOF|deadline exceeded).*\(and the 6 items that need it\)(\n|$)/);
    const missing = readFileSync(join(dir, 'MISSING.txt'), 'utf8');
    assert.match(missing, /\ncluster\/get-all\.txt  \(kubectl get all -A -o wide\)\n {4}needs kubectl version, which failed: /);
    assert.match(missing, /\nnodes\/controller-1\/journal\/kube-apiserver\.log  \(controller-1: journalctl -u kube-apiserver\)\n {4}needs controller-1: systemctl is-system-running, which failed: /);
    assert.equal(await archived(dir), files);
  } finally {
    // Restored: logs changed nothing, so starting the container brings the API back by itself.
    assert.is((await docker('start', controller)).code, 0);
  }
  const started = Date.now();
  while ((await kubectl(['get', '--raw', '/readyz'])).code !== 0) {
    assert.ok(Date.now() - started < 120_000, 'the apiserver did not come back within 120 s of docker start');
    await new Promise((r) => setTimeout(r, 2000));
  }
});

test.after(async () => {
  await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--config', configFile, '--plain'], { cwd: root, reject: false, timeout: 300_000 });
  removeByLabelSync(LABEL);
  exitCleanup.done();
});

test.run();
