// A highly available cluster through the real CLI (`--control-planes 3 --workers 1`): three etcd members
// started, every apiserver ready, the API endpoint (HAProxy) answering on 127.0.0.1 with every apiserver
// up behind it and the worker's clients going through it, the worker Ready, a Secret written through one
// apiserver read through each, the cluster still serving writes and the endpoint still answering (a request
// loop, its failures and longest gap printed) with one control plane stopped (etcd quorum 2/3), and
// converging again once it is back. Own cluster (harder-ha, 10.244.0.0/24, host port 7244) in a scratch
// project root, like cluster-e2e.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa, execaSync } from 'execa';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { apiRequest, loadIdentity, type TlsIdentity } from '../../tasks/cluster/api-client.ts';
import { etcdctlArgs } from '../../tasks/cluster/etcd.ts';
import { HAPROXY_SOCKET, serverStates } from '../../tasks/endpoint/render.ts';
import { noAddons } from '../../tasks/addons/spec.ts';

const CLUSTER = 'harder-ha';
const CONTROL_PLANES = ['controller-1', 'controller-2', 'controller-3'];
const WORKERS = ['worker-1'];
/** Control planes get .10, .11, .12 and workers .20 of the node subnet (tasks/net/ip-plan.ts). */
const CP_IPS = ['10.244.0.10', '10.244.0.11', '10.244.0.12'];
const SIZE_FLAGS = ['--control-planes', '3', '--workers', '1'];
/** The API endpoint: host 2 of the node subnet, its port published on the host's loopback. */
const ENDPOINT_IP = '10.244.0.2';
const HOST_PORT = 7244;
const ENDPOINT = `${CLUSTER}-api`;

const root = scratchProjectRoot('harder-ha-');
const configFile = join(root, 'ha-config.json');
// mergeKubeconfig: false: this test's cluster stays out of the machine's ~/.kube/config (cluster-e2e tests the merge).
// addons: none (they have their own tests).
writeFileSync(configFile, JSON.stringify({ clusterName: CLUSTER, nodeSubnet: '10.244.0.0/24', binarySource: 'go', mergeKubeconfig: false, apiHostPort: HOST_PORT, addons: noAddons() }, null, 2));

let cleaned = false;
const cleanArgs = ['tsx', 'tasks.ts', 'clean:nodes', '--yes', ...SIZE_FLAGS, '--config', configFile, '--plain'];
/** Last resort if the process dies before test.after ran: remove this cluster's containers and network. */
process.on('exit', () => {
  if (cleaned) return;
  execaSync('npx', cleanArgs, { cwd: root, reject: false, timeout: 300_000 });
  rmSync(root, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

type Run = { code: number; output: string; built: string[]; wallMs: number };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, ...SIZE_FLAGS, '--config', configFile, '--plain', '-j', '6'], { cwd: root, reject: false, all: true, timeout: 30 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  const wallMs = performance.now() - started;
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${(wallMs / 1000).toFixed(1)} s, built ${built.length}\n${output.split('\n').filter((l) => /✗|built, /.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built, wallMs };
}

let admin: TlsIdentity | undefined;
const identity = (): TlsIdentity => (admin ??= loadIdentity({ ca: join(root, 'output/pki/ca.crt'), cert: join(root, 'output/pki/admin.crt'), key: join(root, 'output/pki/admin.key') }));
const api = (ip: string, path: string, opts: Parameters<typeof apiRequest>[2] = {}) => apiRequest(`https://${ip}:6443${path}`, identity(), opts);
/** Through the endpoint's published port, as the admin kubeconfig goes. */
const viaEndpoint = (path: string, opts: Parameters<typeof apiRequest>[2] = {}) => apiRequest(`https://127.0.0.1:${HOST_PORT}${path}`, identity(), opts);

/** HAProxy's runtime API inside the endpoint container (`show stat`, `show sess`). */
async function haproxy(command: string): Promise<string> {
  const res = await execa('docker', ['exec', ENDPOINT, 'sh', '-c', `echo '${command}' | socat stdio UNIX-CONNECT:${HAPROXY_SOCKET}`], { reject: false, timeout: 10_000 });
  assert.is(res.exitCode, 0, `${command}: ${res.stderr}`);
  return String(res.stdout);
}
const serverStatus = async (): Promise<Record<string, string>> => Object.fromEntries(serverStates(await haproxy('show stat')).map((s) => [s.server, s.status]));

/** `etcdctl member list` run inside a control plane (controller-1 unless told) with its own certs; one line per member. */
async function etcdMembers(container = `${CLUSTER}-controller-1`): Promise<string[]> {
  const res = await execa('docker', ['exec', container, ...etcdctlArgs(), 'member', 'list'], { reject: false, timeout: 30_000 });
  assert.is(res.exitCode, 0, `etcdctl member list: ${res.stderr}`);
  return String(res.stdout).trim().split('\n').filter(Boolean);
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const started = performance.now();
  let last = '';
  while (performance.now() - started < timeoutMs) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s ${last}`);
}

const SECRETS = '/api/v1/namespaces/default/secrets';
const secretBody = (name: string, value: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, labels: { 'harder.test': 'ha' } }, stringData: { value } });
const secretValue = (body: string) => Buffer.from((JSON.parse(body) as { data: { value: string } }).data.value, 'base64').toString('utf8');

test('cluster from nothing with 3 control planes and 1 worker', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  for (const cp of CONTROL_PLANES) assert.ok(run.built.includes(`unit:${cp}:etcd`), `unit:${cp}:etcd not built: ${run.built.join(' ')}`);
});

test('etcd has 3 started members, one per control plane', async () => {
  const members = await etcdMembers();
  process.stdout.write(`${members.join('\n')}\n`);
  assert.is(members.length, 3, members.join('\n'));
  for (const cp of CONTROL_PLANES) assert.ok(members.some((m) => /, started, /.test(m) && m.includes(`, ${cp}, `)), `${cp} is not a started member:\n${members.join('\n')}`);
});

test('every control plane\'s apiserver answers /readyz with the admin cert', async () => {
  for (const ip of CP_IPS) {
    const res = await api(ip, '/readyz');
    assert.is(res.status, 200, `${ip}: /readyz ${res.status} ${res.body.slice(0, 300)}`);
    assert.is(res.body.trim(), 'ok');
  }
});

test('the endpoint answers /readyz on 127.0.0.1 with every apiserver up behind it; the admin kubeconfig points there', async () => {
  const res = await viaEndpoint('/readyz');
  assert.is(res.status, 200, `/readyz through 127.0.0.1:${HOST_PORT}: ${res.status} ${res.body.slice(0, 300)}`);
  assert.is(res.body.trim(), 'ok');
  assert.match(readFileSync(join(root, 'output/kubeconfig/admin.kubeconfig'), 'utf8'), new RegExp(`server: "?https://127\\.0\\.0\\.1:${HOST_PORT}"?\\n`));
  // The health checks have found every apiserver ready (cluster:apiserver-ready waited for one).
  const status = await until('every apiserver UP in HAProxy', 20_000, async () => {
    const s = await serverStatus();
    return CONTROL_PLANES.every((cp) => s[cp] === 'UP') ? s : undefined;
  });
  process.stdout.write(`HAProxy servers: ${JSON.stringify(status)}\n`);
});

test('the worker\'s kubelet and kube-proxy go through the endpoint', async () => {
  for (const file of ['output/kubeconfig/kubelet-worker-1.kubeconfig', 'output/kubeconfig/kube-proxy.kubeconfig']) {
    assert.match(readFileSync(join(root, file), 'utf8'), new RegExp(`server: "?https://${ENDPOINT_IP.replace(/\./g, '\\.')}:6443"?\\n`), file);
  }
  // Their connections, seen from the worker: established to the endpoint's address, none to an apiserver's.
  const ss = await execa('docker', ['exec', `${CLUSTER}-${WORKERS[0]}`, 'ss', '-Htn', 'state', 'established'], { reject: false });
  const peers = String(ss.stdout).split('\n').map((l) => l.trim().split(/\s+/)[3]).filter(Boolean);
  assert.ok(peers.some((p) => p === `${ENDPOINT_IP}:6443`), `no connection to the endpoint: ${peers.join(' ')}`);
  assert.not.ok(peers.some((p) => CP_IPS.some((ip) => p === `${ip}:6443`)), `a connection straight to an apiserver: ${peers.join(' ')}`);
});

test('the worker is Ready', async () => {
  for (const w of WORKERS) {
    await until(`${w} Ready`, 60_000, async () => {
      const res = await api(CP_IPS[0]!, `/api/v1/nodes/${w}`);
      const ready = res.status === 200 && (JSON.parse(res.body) as { status: { conditions: { type: string; status: string }[] } }).status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready ? true : undefined;
    });
  }
});

test('a Secret written through controller-1 is read back through each apiserver', async () => {
  const name = `ha-replicated-${Date.now()}`;
  const created = await api(CP_IPS[0]!, SECRETS, { method: 'POST', body: secretBody(name, 'through etcd') });
  assert.is(created.status, 201, created.body.slice(0, 300));
  for (const ip of CP_IPS) {
    const res = await api(ip, `${SECRETS}/${name}`);
    assert.is(res.status, 200, `${ip}: GET secret ${res.status} ${res.body.slice(0, 300)}`);
    assert.is(secretValue(res.body), 'through etcd');
  }
});

/** The control plane whose apiserver carries the worker's connections through the endpoint (HAProxy `show sess`). */
async function workerServer(): Promise<string | undefined> {
  const sessions = (await haproxy('show sess')).split('\n');
  const counts = new Map<string, number>();
  for (const line of sessions) {
    const m = /src=10\.244\.0\.20:\d+ .*\bsrv=(\S+)/.exec(line);
    if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

type Sample = { at: number; ok: boolean; what: string };

/** GET /readyz through the endpoint every `everyMs` (a new TLS connection each time) for `forMs`. */
async function requestLoop(forMs: number, everyMs: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const started = performance.now();
  while (performance.now() - started < forMs) {
    const at = performance.now() - started;
    const sample = await viaEndpoint('/readyz', { timeoutMs: 2000 }).then(
      (res) => ({ at, ok: res.status === 200, what: `${res.status} ${res.body.trim().split('\n').filter((l) => l.startsWith('[-]')).join(' ').slice(0, 120)}`.trim() }),
      (error: Error) => ({ at, ok: false, what: error.message.slice(0, 120) }),
    );
    samples.push(sample);
    const wait = everyMs - (performance.now() - started - at);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return samples;
}

const leaseRenewTime = async (node: string): Promise<string> => {
  const res = await viaEndpoint(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}`, { timeoutMs: 5000 });
  assert.is(res.status, 200, res.body.slice(0, 200));
  return (JSON.parse(res.body) as { spec: { renewTime: string } }).spec.renewTime;
};

test('one control plane stopped: the endpoint drops it within seconds, requests through it keep working, the worker stays Ready; etcd keeps quorum; back up, cluster converges', async () => {
  // Stop the apiserver the worker's kubelet is connected through, so its own connection has to move.
  const victim = (await workerServer()) ?? 'controller-2';
  const v = CONTROL_PLANES.indexOf(victim);
  assert.ok(v >= 0, `HAProxy names server ${victim}`);
  const live = CP_IPS[v === 0 ? 1 : 0]!;
  const liveContainer = `${CLUSTER}-${CONTROL_PLANES[v === 0 ? 1 : 0]}`;
  process.stdout.write(`worker-1's connections go to ${victim}: stopping it\n`);
  // A kubelet reports Ready before its lease controller has created the node's Lease (CI saw a 404 right
  // after the cluster came up): wait for the Lease to exist before measuring its renewals.
  const leaseBefore = await until(`${WORKERS[0]}'s node Lease exists`, 60_000, () => leaseRenewTime(WORKERS[0]!));

  const loop = requestLoop(20_000, 200);
  await new Promise((r) => setTimeout(r, 2000));
  const stopAt = performance.now();
  const stopping = execa('docker', ['stop', `${CLUSTER}-${victim}`], { reject: false, timeout: 120_000 });
  const markedDownMs = await until(`HAProxy marks ${victim} DOWN`, 30_000, async () => ((await serverStatus())[victim]?.startsWith('DOWN') ? performance.now() - stopAt : undefined));
  const stop = await stopping;
  const stoppedMs = performance.now() - stopAt;
  assert.is(stop.exitCode, 0, String(stop.stderr));
  try {
    const samples = await loop;
    const failed = samples.filter((x) => !x.ok);
    let longestGap = 0;
    let lastOk = 0;
    for (const x of samples) {
      if (!x.ok) continue;
      longestGap = Math.max(longestGap, x.at - lastOk);
      lastOk = x.at;
    }
    process.stdout.write(
      `request loop through 127.0.0.1:${HOST_PORT}/readyz, every 200 ms for 20 s, ${victim} stopped at 2.0 s (docker stop took ${(stoppedMs / 1000).toFixed(1)} s): ` +
        `${samples.length} requests, ${failed.length} failed, longest gap between successes ${Math.round(longestGap)} ms; HAProxy marked ${victim} DOWN ${(markedDownMs / 1000).toFixed(1)} s after the stop began\n` +
        failed.map((x) => `  failed at ${(x.at / 1000).toFixed(1)} s: ${x.what}`).join('\n') + (failed.length ? '\n' : ''),
    );
    assert.ok(samples.length >= 50, `only ${samples.length} requests in 20 s`);
    assert.ok(longestGap < 5000, `no successful request for ${Math.round(longestGap)} ms`);
    assert.ok(failed.length <= 10, `${failed.length} of ${samples.length} requests failed`);
    // The worker's kubelet moved to a live apiserver through the endpoint: its lease was renewed meanwhile.
    const leaseAfter = await until('worker-1 lease renewed with the victim down', 30_000, async () => {
      const t = await leaseRenewTime(WORKERS[0]!);
      return t !== leaseBefore ? t : undefined;
    });
    process.stdout.write(`worker-1 lease renewed: ${leaseBefore} → ${leaseAfter}\n`);
    const nodeRes = await viaEndpoint(`/api/v1/nodes/${WORKERS[0]}`);
    const ready = (JSON.parse(nodeRes.body) as { status: { conditions: { type: string; status: string }[] } }).status.conditions.find((c) => c.type === 'Ready');
    assert.is(ready?.status, 'True', `worker-1 with ${victim} down: ${JSON.stringify(ready)}`);

    const name = `ha-quorum-${Date.now()}`;
    // The first request may meet an etcd client still connected to the stopped member: allow a short retry.
    const created = await until(`Secret created with ${victim} down`, 30_000, async () => {
      const res = await viaEndpoint(SECRETS, { method: 'POST', body: secretBody(name, 'quorum of two'), timeoutMs: 10_000 });
      if (res.status === 201) return res;
      throw new Error(`POST ${res.status} ${res.body.slice(0, 200)}`);
    });
    assert.is(created.status, 201);
    const read = await api(live, `${SECRETS}/${name}`);
    assert.is(read.status, 200, read.body.slice(0, 300));
    assert.is(secretValue(read.body), 'quorum of two');
  } finally {
    const start = await execa('docker', ['start', `${CLUSTER}-${victim}`], { reject: false, timeout: 120_000 });
    assert.is(start.exitCode, 0, String(start.stderr));
  }
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  const members = await etcdMembers(liveContainer);
  assert.is(members.filter((m) => /, started, /.test(m)).length, 3, members.join('\n'));
  // `cluster:apiserver-ready` probes every control plane's /readyz, so a converged run means the victim's
  // apiserver is ready again: no waiting here.
  const readyz = await api(CP_IPS[v]!, '/readyz');
  assert.is(readyz.status, 200, `${victim} /readyz right after the cluster run: ${readyz.status} ${readyz.body.slice(0, 200)}`);
  const back = await until(`HAProxy marks ${victim} UP again`, 20_000, async () => ((await serverStatus())[victim] === 'UP' ? true : undefined));
  assert.ok(back);
  // etcd health is checked when etcd's units change, not on every run: wait for the restarted member, bounded.
  const after = performance.now();
  await until(`${victim} etcd endpoint healthy`, 60_000, async () => {
    const health = await execa('docker', ['exec', liveContainer, ...etcdctlArgs(`https://${CP_IPS[v]}:2379`), 'endpoint', 'health'], { reject: false, timeout: 30_000 });
    if (health.exitCode === 0) return true;
    throw new Error(`${health.stdout} ${health.stderr}`);
  });
  process.stdout.write(`${victim} etcd healthy ${((performance.now() - after) / 1000).toFixed(1)} s after the cluster run\n`);
  const name = `ha-rejoined-${Date.now()}`;
  const created = await api(CP_IPS[v]!, SECRETS, { method: 'POST', body: secretBody(name, 'after rejoin') });
  assert.is(created.status, 201, created.body.slice(0, 300));
  for (const ip of CP_IPS) {
    const res = await api(ip, `${SECRETS}/${name}`);
    assert.is(res.status, 200, `${ip}: GET secret ${res.status}`);
    assert.is(secretValue(res.body), 'after rejoin');
  }
});

test('the endpoint after docker restart answers again by itself; after docker rm -f the next cluster run recreates exactly it', async () => {
  const restart = await execa('docker', ['restart', ENDPOINT], { reject: false, timeout: 60_000 });
  assert.is(restart.exitCode, 0, String(restart.stderr));
  const started = performance.now();
  await until('/readyz through the restarted endpoint', 30_000, async () => ((await viaEndpoint('/readyz', { timeoutMs: 2000 })).status === 200 ? true : undefined));
  process.stdout.write(`endpoint answering ${((performance.now() - started) / 1000).toFixed(1)} s after docker restart\n`);
  const noop = await cli('cluster');
  assert.is(noop.code, 0, noop.output.slice(-3000));
  assert.equal(noop.built, [], `a restart needs no action, but the run built ${noop.built.join(' ')}`);

  const rm = await execa('docker', ['rm', '-f', ENDPOINT], { reject: false, timeout: 60_000 });
  assert.is(rm.exitCode, 0, String(rm.stderr));
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built.filter((t) => !t.startsWith('cluster:')).sort(), ['endpoint:container', 'endpoint:config'].sort(), run.built.join(' '));
  const res = await viaEndpoint('/readyz');
  assert.is(res.status, 200, res.body.slice(0, 300));
});

test('clean:nodes removes the containers and the network', async () => {
  const run = await cli('clean:nodes', '--yes');
  assert.is(run.code, 0, run.output.slice(-2000));
  const ps = await execa('docker', ['ps', '-a', '--filter', `label=harder.cluster=${CLUSTER}`, '--format', '{{.Names}}']);
  assert.is(String(ps.stdout).trim(), '');
  const nets = await execa('docker', ['network', 'ls', '--filter', `name=^${CLUSTER}$`, '--format', '{{.Name}}']);
  assert.is(String(nets.stdout).trim(), '');
});

test.after(async () => {
  // Whatever happened above, leave no containers behind (finally), then drop the scratch root.
  await execa('npx', cleanArgs, { cwd: root, reject: false, timeout: 300_000 });
  cleaned = true;
  rmSync(root, { recursive: true, force: true });
});

test.run();
