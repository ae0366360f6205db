// Control planes changed on a live cluster through the spec, each change one `cluster` run (issue 14), own
// cluster harder-t-cpchange (10.251.0.0/24, host port 7251) in a scratch project root: 1 control plane + 1
// worker grows to 3 (etcd `member add` one at a time, three started and healthy members, every apiserver
// ready, the API endpoint with three servers UP, controller-1's units untouched), a second run builds
// nothing; a change that would lose quorum (controller-2's etcd stopped, controller-3 taken out) and a spec
// with no control plane are refused with one clear message and change nothing; then 3 → 1 with a request
// loop through the endpoint during the run: zero failed requests (count and longest gap printed).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repo, scratchProjectRoot } from '../lib/scratch-root.ts';
import { until } from '../lib/until.ts';
import { cleanUpOnExit } from '../lib/docker-cleanup.ts';
import { apiRequest, loadIdentity, type TlsIdentity } from '../../tasks/cluster/api-client.ts';
import { etcdctlArgs } from '../../tasks/cluster/etcd.ts';
import { HAPROXY_SOCKET, serverStates } from '../../tasks/endpoint/render.ts';
import { noAddons } from '../../tasks/addons/spec.ts';

const CLUSTER = 'harder-t-cpchange';
const HOST_PORT = 7251;
const ENDPOINT = `${CLUSTER}-api`;
const ENDPOINT_IP = '10.251.0.2';
/** Control planes get .10, .11, .12 and the worker .20 of the node subnet (tasks/net/ip-plan.ts). */
const CP_IPS: Record<string, string> = { 'controller-1': '10.251.0.10', 'controller-2': '10.251.0.11', 'controller-3': '10.251.0.12' };
const WORKER = 'worker-1';
const container = (node: string) => `${CLUSTER}-${node}`;

const root = scratchProjectRoot('harder-t-cpchange-');
const configFile = join(root, 'cpchange-config.json');
// mergeKubeconfig: false: this test's cluster stays out of the machine's ~/.kube/config; addons: none (they have their own tests).
const baseConfig = { clusterName: CLUSTER, nodeSubnet: '10.251.0.0/24', apiHostPort: HOST_PORT, mergeKubeconfig: false, binarySource: 'go', addons: noAddons() };
const writeSpec = (controlPlanes: number, workers = [WORKER]) =>
  writeFileSync(
    configFile,
    JSON.stringify({ ...baseConfig, nodes: [...Array.from({ length: controlPlanes }, (_, i) => ({ name: `controller-${i + 1}`, role: 'control-plane' })), ...workers.map((name) => ({ name, role: 'worker' }))] }, null, 2),
  );
writeSpec(1);

const exitCleanup = cleanUpOnExit(`label=harder.cluster=${CLUSTER}`, [root]);

type Run = { code: number; output: string; built: string[]; wallMs: number };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '-j', '6'], { cwd: root, reject: false, all: true, timeout: 30 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  const wallMs = performance.now() - started;
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${(wallMs / 1000).toFixed(1)} s, built ${built.length}\n${output.split('\n').filter((l) => /✗|refused|member|endpoint:config|remove:node|built, /.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built, wallMs };
}

let admin: TlsIdentity | undefined;
/** The spec's own cluster is the default one: its state is output/ (README, Several clusters). */
const stateDir = () => join(root, 'output');
const identity = (): TlsIdentity => (admin ??= loadIdentity({ ca: join(stateDir(), 'pki/ca.crt'), cert: join(stateDir(), 'pki/admin.crt'), key: join(stateDir(), 'pki/admin.key') }));
const api = (ip: string, path: string, opts: Parameters<typeof apiRequest>[2] = {}) => apiRequest(`https://${ip}:6443${path}`, identity(), opts);
const viaEndpoint = (path: string, opts: Parameters<typeof apiRequest>[2] = {}) => apiRequest(`https://127.0.0.1:${HOST_PORT}${path}`, identity(), opts);

async function dockerExec(node: string, argv: string[]): Promise<{ code: number; out: string }> {
  const res = await execa('docker', ['exec', node, ...argv], { reject: false, timeout: 60_000, all: true });
  return { code: res.exitCode ?? -1, out: String(res.all ?? '').trim() };
}

/** `etcdctl member list` inside controller-1 with its own certs, one line per member. */
async function etcdMembers(): Promise<string[]> {
  const res = await dockerExec(container('controller-1'), [...etcdctlArgs(), 'member', 'list']);
  assert.is(res.code, 0, `etcdctl member list: ${res.out}`);
  return res.out.split('\n').filter(Boolean);
}

const serverStatus = async (): Promise<Record<string, string>> => {
  const res = await dockerExec(ENDPOINT, ['sh', '-c', `echo 'show stat' | socat stdio UNIX-CONNECT:${HAPROXY_SOCKET}`]);
  assert.is(res.code, 0, res.out);
  return Object.fromEntries(serverStates(res.out).map((s) => [s.server, s.status]));
};

const workerReady = async (): Promise<boolean | undefined> => {
  const res = await viaEndpoint(`/api/v1/nodes/${WORKER}`, { timeoutMs: 5000 });
  if (res.status !== 200) return undefined;
  return (JSON.parse(res.body) as { status: { conditions: { type: string; status: string }[] } }).status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') || undefined;
};

type Sample = { at: number; ok: boolean; what: string };

/** GET /readyz through the endpoint's published port every `everyMs` (a new TLS connection each time) until `stop` resolves. */
function requestLoop(everyMs: number): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let stopping = false;
  const started = performance.now();
  const loop = (async () => {
    while (!stopping) {
      const at = performance.now() - started;
      samples.push(
        await viaEndpoint('/readyz', { timeoutMs: 3000 }).then(
          (res) => ({ at, ok: res.status === 200, what: `${res.status} ${res.body.trim().split('\n').filter((l) => l.startsWith('[-]')).join(' ').slice(0, 120)}`.trim() }),
          (error: Error) => ({ at, ok: false, what: error.message.slice(0, 120) }),
        ),
      );
      const wait = everyMs - (performance.now() - started - at);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      return samples;
    },
  };
}

function report(label: string, samples: Sample[]): { failed: Sample[]; longestGap: number } {
  const failed = samples.filter((x) => !x.ok);
  let longestGap = 0;
  let lastOk = 0;
  for (const x of samples) {
    if (!x.ok) continue;
    longestGap = Math.max(longestGap, x.at - lastOk);
    lastOk = x.at;
  }
  const spanS = samples.length ? samples[samples.length - 1]!.at / 1000 : 0;
  process.stdout.write(
    `${label}: request loop through 127.0.0.1:${HOST_PORT}/readyz every 100 ms for ${spanS.toFixed(1)} s: ${samples.length} requests, ${failed.length} failed, longest gap between successes ${Math.round(longestGap)} ms\n` +
      failed.map((x) => `  failed at ${(x.at / 1000).toFixed(1)} s: ${x.what}\n`).join(''),
  );
  return { failed, longestGap };
}

test('a cluster with 1 control plane and 1 worker', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.is((await etcdMembers()).length, 1);
  assert.equal(Object.keys(await serverStatus()), ['controller-1']);
});

test('1 → 3 control planes in one run: members added one at a time, three started and healthy, every apiserver ready, three servers UP, controller-1 untouched', async () => {
  writeSpec(3);
  const loop = requestLoop(100);
  const run = await cli('cluster');
  const samples = await loop.stop();
  assert.is(run.code, 0, run.output.slice(-4000));
  const { failed } = report('1 → 3', samples);
  for (const name of ['etcd:membership', 'etcd:controller-2:member', 'etcd:controller-3:member', 'unit:controller-2:etcd', 'unit:controller-3:etcd', 'etcd:controller-2:promote', 'etcd:controller-3:promote', 'endpoint:config']) assert.ok(run.built.includes(name), `${name} not built: ${run.built.join(' ')}`);
  // The running control plane keeps its certs, flags and processes (tasks/certs/catalog.ts: one apiserver cert per node).
  for (const name of ['unit:controller-1:etcd', 'unit:controller-1:kube-apiserver', 'unit:controller-1:kube-controller-manager', 'unit:controller-1:kube-scheduler', 'certs:kube-apiserver:controller-1', 'etcd:controller-1:member']) {
    assert.not.ok(run.built.includes(name), `${name} was rebuilt by adding control planes`);
  }
  // One at a time, as learners: controller-3 was added after controller-2 had started and been promoted.
  assert.ok(run.built.indexOf('etcd:controller-2:promote') < run.built.indexOf('etcd:controller-3:member'), run.built.join(' '));
  assert.match(run.output, /etcdctl member add controller-2 --peer-urls=https:\/\/10\.251\.0\.11:2380 --learner/);
  assert.match(run.output, /etcdctl member add controller-3 --peer-urls=https:\/\/10\.251\.0\.12:2380 --learner/);
  assert.match(run.output, /etcdctl member promote \S+ \(controller-2\)/);
  assert.is(failed.length, 0, `${failed.length} requests failed while control planes were added`);

  const members = await etcdMembers();
  process.stdout.write(`${members.join('\n')}\n`);
  assert.is(members.length, 3, members.join('\n'));
  for (const cp of Object.keys(CP_IPS)) assert.ok(members.some((m) => m.includes(`, started, ${cp}, https://${CP_IPS[cp]}:2380`)), `${cp} is not a started member`);
  const health = await dockerExec(container('controller-1'), [...etcdctlArgs(Object.values(CP_IPS).map((ip) => `https://${ip}:2379`).join(',')), 'endpoint', 'health']);
  assert.is(health.code, 0, health.out);
  assert.is((health.out.match(/is healthy/g) ?? []).length, 3, health.out);
  for (const [cp, ip] of Object.entries(CP_IPS)) {
    const res = await api(ip, '/readyz');
    assert.is(res.status, 200, `${cp}: /readyz ${res.status} ${res.body.slice(0, 200)}`);
  }
  const status = await until('three servers UP in HAProxy', 20_000, async () => {
    const s = await serverStatus();
    return Object.keys(CP_IPS).every((cp) => s[cp] === 'UP') ? s : undefined;
  });
  process.stdout.write(`HAProxy servers: ${JSON.stringify(status)}\n`);
  // More than one control plane: the worker's kubelet and kube-proxy go through the endpoint, and it is Ready.
  for (const file of [`kubeconfig/kubelet-${WORKER}.kubeconfig`, 'kubeconfig/kube-proxy.kubeconfig']) {
    assert.match(readFileSync(join(stateDir(), file), 'utf8'), new RegExp(`server: "?https://${ENDPOINT_IP.replace(/\./g, '\\.')}:6443"?\\n`), file);
  }
  assert.ok(await until(`${WORKER} Ready through the endpoint`, 60_000, workerReady));
});

test("the tutorial's commands of 'Control planes on a live cluster' hold on this cluster", async () => {
  const docs = await import('../lib/doc-commands.ts');
  const chapter = readFileSync(join(repo, 'docs/high-availability.md'), 'utf8').split('\n');
  const from = chapter.findIndex((l) => l === '## Control planes on a live cluster') + 1;
  const to = chapter.findIndex((l, i) => i >= from && l.startsWith('## ')) + 1 || chapter.length + 1;
  assert.ok(from > 0, 'docs/high-availability.md has no section "Control planes on a live cluster"');
  const report = await docs.runDocCommands({
    clusterName: CLUSTER,
    kubeconfig: join(stateDir(), 'kubeconfig/admin.kubeconfig'),
    outDir: stateDir(),
    cwd: root,
    docsDir: join(repo, 'docs'),
    replacements: [['10.240.0.', '10.251.0.'], ['127.0.0.1:6443', `127.0.0.1:${HOST_PORT}`]],
    filter: (c) => c.chapter === 'high-availability' && c.line > from && c.line < to,
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  assert.ok(report.passed >= 3, `only ${report.passed} commands ran`);
  assert.ok(report.ok, docs.formatFailures(report));
});

test('the run after the change builds nothing', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built, [], run.built.join(' '));
});

test('refused, changing nothing: a spec with no control plane; removing controller-3 while controller-2\'s etcd is stopped', async () => {
  writeSpec(0);
  const none = await cli('cluster', '--yes');
  assert.is(none.code, 2, none.output.slice(-2000));
  assert.match(none.output, /nodes: has no control-plane node/);
  assert.equal(none.built, []);

  const stop = await dockerExec(container('controller-2'), ['systemctl', 'stop', 'etcd']);
  assert.is(stop.code, 0, stop.out);
  try {
    writeSpec(2);
    const refused = await cli('cluster', '--yes');
    assert.is.not(refused.code, 0, refused.output.slice(-3000));
    assert.match(refused.output, /refused before anything changed: removing controller-3 would leave 2 members \(controller-1, controller-2\) of which 1 is healthy \(not: controller-2\)/);
    assert.match(refused.output, /bring controller-2 back first/);
    for (const name of ['endpoint:config', 'etcd:controller-3:member-remove', 'remove:node:controller-3', 'unit:controller-2:etcd']) assert.not.ok(refused.built.includes(name), `${name} ran: ${refused.built.join(' ')}`);
    // Nothing changed: controller-3 is still a member and behind the endpoint, controller-2's etcd still stopped.
    assert.is((await etcdMembers()).length, 3);
    assert.equal(Object.keys(await serverStatus()).sort(), Object.keys(CP_IPS));
    assert.is((await dockerExec(container('controller-2'), ['systemctl', 'is-active', 'etcd'])).out, 'inactive');
    assert.is((await execa('docker', ['inspect', '-f', '{{.State.Running}}', container('controller-3')], { reject: false })).stdout.trim(), 'true');
  } finally {
    writeSpec(3);
    await dockerExec(container('controller-2'), ['systemctl', 'start', 'etcd']);
  }
  const back = await cli('cluster');
  assert.is(back.code, 0, back.output.slice(-3000));
});

test('3 → 1 through the spec with a request loop through the endpoint during the run: zero failed requests', async () => {
  writeSpec(1);
  const loop = requestLoop(100);
  await new Promise((r) => setTimeout(r, 1000));
  const run = await cli('cluster', '--yes');
  await new Promise((r) => setTimeout(r, 2000));
  const samples = await loop.stop();
  assert.is(run.code, 0, run.output.slice(-4000));
  const { failed } = report('3 → 1', samples);
  // In order: the endpoint without them, then controller-3 out of etcd and gone, then controller-2.
  const order = ['endpoint:config', 'etcd:controller-3:member-remove', 'remove:node:controller-3', 'etcd:controller-2:member-remove', 'remove:node:controller-2'];
  for (const name of order) assert.ok(run.built.includes(name), `${name} not built: ${run.built.join(' ')}`);
  assert.equal(order.map((n) => run.built.indexOf(n)), order.map((n) => run.built.indexOf(n)).sort((a, b) => a - b), run.built.join(' '));
  for (const name of ['unit:controller-1:etcd', 'unit:controller-1:kube-apiserver']) assert.not.ok(run.built.includes(name), `${name} was restarted by removing control planes`);
  assert.ok(samples.length >= 50, `only ${samples.length} requests`);
  assert.is(failed.length, 0, `${failed.length} of ${samples.length} requests failed while control planes were removed`);

  const members = await etcdMembers();
  assert.is(members.length, 1, members.join('\n'));
  assert.match(members[0]!, /, started, controller-1, /);
  assert.equal(Object.keys(await serverStatus()), ['controller-1']);
  for (const cp of ['controller-2', 'controller-3']) assert.is((await execa('docker', ['inspect', container(cp)], { reject: false })).exitCode, 1, `${container(cp)} still exists`);
  assert.match(readFileSync(join(stateDir(), `kubeconfig/kubelet-${WORKER}.kubeconfig`), 'utf8'), /server: "?https:\/\/10\.251\.0\.10:6443"?\n/);
  assert.ok(await until(`${WORKER} Ready`, 90_000, workerReady));
  const again = await cli('cluster');
  assert.is(again.code, 0, again.output.slice(-3000));
  assert.equal(again.built, [], again.built.join(' '));
});

test.after(async () => {
  await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--config', configFile, '--plain'], { cwd: root, reject: false, timeout: 300_000 });
  exitCleanup.done();
});

test.run();
