// A highly available cluster through the real CLI (`--control-planes 3 --workers 1`): three etcd members
// started, every apiserver ready, the API endpoint (HAProxy) answering on 127.0.0.1 with every apiserver
// up behind it and the worker's clients going through it, the worker Ready, a Secret written through one
// apiserver read through each. Then the faults of issue 14, each with a request loop through the endpoint
// whose failures and longest gap are printed: `docker stop` of one control plane (the worker stays Ready,
// a Deployment is scaled, writes go on with etcd's quorum of 2/3), `docker kill` of the etcd leader's node
// (a new leader, the same checks, and it converges by itself once started again), the high-availability
// chapter's marked commands, `docker restart` and `docker rm -f` of the endpoint, and `docker restart` of
// every container at once (all Ready again with no action, then a `cluster` run builds nothing). Each
// phase prints its time. Own cluster (harder-ha, 10.244.0.0/24, host port 7244) in a scratch project
// root, like cluster-e2e.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa, execaSync } from 'execa';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repo, scratchProjectRoot } from '../lib/scratch-root.ts';
import { until } from '../lib/until.ts';
import { formatFailures, onTestCluster, runDocCommands } from '../lib/doc-commands.ts';
import { apiRequest, loadIdentity, type TlsIdentity } from '../../tasks/cluster/api-client.ts';
import { etcdctlArgs } from '../../tasks/cluster/etcd.ts';
import { HAPROXY_SOCKET, serverStates } from '../../tasks/endpoint/render.ts';
import { noAddons } from '../../tasks/addons/spec.ts';
import { TEST_IMAGE, TEST_IMAGE_PORT } from '../../tasks/images/cluster-images.ts';
import { cachedBinaryPath } from '../../tasks/binaries/index.ts';
import { DEFAULT_KUBERNETES_VERSION } from '../../tasks/config/config.ts';

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
const container = (node: string) => `${CLUSTER}-${node}`;
/** Every container of the cluster: the nodes and the API endpoint. */
const ALL_CONTAINERS = [...CONTROL_PLANES, ...WORKERS].map(container).concat(ENDPOINT);

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

/** A test whose time is printed: the file runs in CI, and each phase's share of it should be visible. */
function phase(name: string, fn: () => Promise<void>): void {
  test(name, async () => {
    const started = performance.now();
    try {
      await fn();
    } finally {
      process.stdout.write(`phase took ${((performance.now() - started) / 1000).toFixed(1)} s: ${name}\n`);
    }
  });
}

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

/** The kubectl the build made (binarySource 'go'), for the chapter's commands. */
const builtKubectl = () => cachedBinaryPath('kubectl', DEFAULT_KUBERNETES_VERSION, 'go');

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

const SECRETS = '/api/v1/namespaces/default/secrets';
const secretBody = (name: string, value: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, labels: { 'harder.test': 'ha' } }, stringData: { value } });
const secretValue = (body: string) => Buffer.from((JSON.parse(body) as { data: { value: string } }).data.value, 'base64').toString('utf8');

phase('cluster from nothing with 3 control planes and 1 worker', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  for (const cp of CONTROL_PLANES) assert.ok(run.built.includes(`unit:${cp}:etcd`), `unit:${cp}:etcd not built: ${run.built.join(' ')}`);
});

phase('etcd has 3 started members, one per control plane', async () => {
  const members = await etcdMembers();
  process.stdout.write(`${members.join('\n')}\n`);
  assert.is(members.length, 3, members.join('\n'));
  for (const cp of CONTROL_PLANES) assert.ok(members.some((m) => /, started, /.test(m) && m.includes(`, ${cp}, `)), `${cp} is not a started member:\n${members.join('\n')}`);
});

phase('every control plane\'s apiserver answers /readyz with the admin cert', async () => {
  for (const ip of CP_IPS) {
    const res = await api(ip, '/readyz');
    assert.is(res.status, 200, `${ip}: /readyz ${res.status} ${res.body.slice(0, 300)}`);
    assert.is(res.body.trim(), 'ok');
  }
});

phase('the endpoint answers /readyz on 127.0.0.1 with every apiserver up behind it; the admin kubeconfig points there', async () => {
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

phase('the worker\'s kubelet and kube-proxy go through the endpoint', async () => {
  for (const file of ['output/kubeconfig/kubelet-worker-1.kubeconfig', 'output/kubeconfig/kube-proxy.kubeconfig']) {
    assert.match(readFileSync(join(root, file), 'utf8'), new RegExp(`server: "?https://${ENDPOINT_IP.replace(/\./g, '\\.')}:6443"?\\n`), file);
  }
  // Their connections, seen from the worker: established to the endpoint's address, none to an apiserver's.
  const ss = await execa('docker', ['exec', `${CLUSTER}-${WORKERS[0]}`, 'ss', '-Htn', 'state', 'established'], { reject: false });
  const peers = String(ss.stdout).split('\n').map((l) => l.trim().split(/\s+/)[3]).filter(Boolean);
  assert.ok(peers.some((p) => p === `${ENDPOINT_IP}:6443`), `no connection to the endpoint: ${peers.join(' ')}`);
  assert.not.ok(peers.some((p) => CP_IPS.some((ip) => p === `${ip}:6443`)), `a connection straight to an apiserver: ${peers.join(' ')}`);
});

phase('the worker is Ready', async () => {
  for (const w of WORKERS) {
    await until(`${w} Ready`, 60_000, async () => {
      const res = await api(CP_IPS[0]!, `/api/v1/nodes/${w}`);
      const ready = res.status === 200 && (JSON.parse(res.body) as { status: { conditions: { type: string; status: string }[] } }).status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
      return ready ? true : undefined;
    });
  }
});

phase('a Secret written through controller-1 is read back through each apiserver', async () => {
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

type LoopFigures = { requests: number; failed: Sample[]; longestGapMs: number };

/** What a request loop saw: its failures and the longest time between two successes (the ends count too). */
function loopFigures(samples: Sample[]): LoopFigures {
  let longestGapMs = 0;
  let lastOk = 0;
  for (const x of samples) {
    if (!x.ok) continue;
    longestGapMs = Math.max(longestGapMs, x.at - lastOk);
    lastOk = x.at;
  }
  const end = samples.at(-1)?.at ?? 0;
  longestGapMs = Math.max(longestGapMs, end - lastOk);
  return { requests: samples.length, failed: samples.filter((x) => !x.ok), longestGapMs };
}

/** One line of figures for the lead to quote, then each failure with its time in the loop. */
function printLoop(what: string, figures: LoopFigures, faultAtMs: number): void {
  const fail = figures.failed;
  const window = fail.length ? `, failures from ${((fail[0]!.at - faultAtMs) / 1000).toFixed(1)} s to ${((fail.at(-1)!.at - faultAtMs) / 1000).toFixed(1)} s after it` : '';
  process.stdout.write(
    `${what}: ${figures.requests} requests, ${fail.length} failed, longest gap between successes ${Math.round(figures.longestGapMs)} ms${window}\n` +
      fail.map((x) => `  failed at ${(x.at / 1000).toFixed(1)} s: ${x.what}`).join('\n') + (fail.length ? '\n' : ''),
  );
}

const leaseRenewTime = async (node: string): Promise<string> => {
  const res = await viaEndpoint(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${node}`, { timeoutMs: 5000 });
  assert.is(res.status, 200, res.body.slice(0, 200));
  return (JSON.parse(res.body) as { spec: { renewTime: string } }).spec.renewTime;
};

/** The holder of a Lease in kube-system (the controller manager's or scheduler's leader election), as `<node>_<id>`. */
async function leaseHolder(name: string): Promise<string> {
  const res = await viaEndpoint(`/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`, { timeoutMs: 5000 }).catch((e: Error) => ({ status: 0, body: e.message }));
  if (res.status !== 200) return `unknown (${res.status})`;
  return (JSON.parse(res.body) as { spec: { holderIdentity?: string } }).spec.holderIdentity?.split('_')[0] ?? 'none';
}

const ECHO = '/apis/apps/v1/namespaces/default/deployments/ha-echo';
type Deployment = { metadata: { generation: number }; spec: { replicas: number }; status: { observedGeneration?: number; replicas?: number; availableReplicas?: number; updatedReplicas?: number } };

/** The smoke tests' image, already in the worker's containerd (no registry is reachable: never pulled). */
const echoDeployment = JSON.stringify({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'ha-echo', labels: { 'harder.test': 'ha' } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: 'ha-echo' } },
    template: {
      metadata: { labels: { app: 'ha-echo' } },
      spec: { containers: [{ name: 'echo', image: TEST_IMAGE, imagePullPolicy: 'Never', ports: [{ containerPort: TEST_IMAGE_PORT }] }] },
    },
  },
});

/** Waits until ha-echo runs `replicas` available pods of its current spec; returns how long that took. */
async function echoAvailable(replicas: number, timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  await until(`ha-echo has ${replicas} available replicas`, timeoutMs, async () => {
    const res = await viaEndpoint(ECHO, { timeoutMs: 5000 });
    if (res.status !== 200) throw new Error(`GET ha-echo ${res.status} ${res.body.slice(0, 200)}`);
    const d = JSON.parse(res.body) as Deployment;
    const done = (d.status.observedGeneration ?? 0) >= d.metadata.generation && d.status.replicas === replicas && d.status.updatedReplicas === replicas && d.status.availableReplicas === replicas;
    if (!done) throw new Error(`status ${JSON.stringify(d.status)}`);
    return true;
  });
  return performance.now() - started;
}

/** Scales ha-echo through the endpoint (the scale subresource, as `kubectl scale` does) and waits for it. */
async function scaleEcho(replicas: number, condition: string): Promise<void> {
  const started = performance.now();
  await until(`ha-echo scaled to ${replicas}`, 30_000, async () => {
    const res = await viaEndpoint(`${ECHO}/scale`, { method: 'PATCH', body: JSON.stringify({ spec: { replicas } }), contentType: 'application/merge-patch+json', timeoutMs: 10_000 });
    if (res.status !== 200) throw new Error(`PATCH scale ${res.status} ${res.body.slice(0, 200)}`);
    return true;
  });
  await echoAvailable(replicas);
  process.stdout.write(`ha-echo scaled to ${replicas} with ${condition}: ${replicas} replicas available ${((performance.now() - started) / 1000).toFixed(1)} s after the request (kube-controller-manager's leader now ${await leaseHolder('kube-controller-manager')})\n`);
}

type EtcdStatus = { ip: string; memberId: string; leader: string };

/** `etcdctl endpoint status` of the given members, asked from inside `from`; members that do not answer are left out. */
async function etcdStatus(from: string, ips: string[]): Promise<EtcdStatus[]> {
  const endpoints = ips.map((ip) => `https://${ip}:2379`).join(',');
  const res = await execa('docker', ['exec', from, ...etcdctlArgs(endpoints), 'endpoint', 'status', '-w', 'json'], { reject: false, timeout: 30_000 });
  // Member IDs are 64-bit: quoted before parsing, so JSON.parse keeps them exact.
  const text = String(res.stdout).replace(/"(member_id|leader|cluster_id)":(\d+)/g, '"$1":"$2"').trim();
  if (!text.startsWith('[')) throw new Error(`etcdctl endpoint status from ${from}: ${res.stderr}`);
  return (JSON.parse(text) as { Endpoint: string; Status: { header: { member_id: string }; leader: string } }[]).map((e) => ({
    ip: new URL(e.Endpoint).hostname,
    memberId: e.Status.header.member_id,
    leader: e.Status.leader,
  }));
}

/** The address of the member that says it is the leader, if one does. */
const leaderIp = (statuses: EtcdStatus[]): string | undefined => statuses.find((s) => s.memberId === s.leader && s.leader !== '0')?.ip;

/** `etcdctl endpoint health --cluster` from inside `from`: every member the member list names answers. */
async function etcdAllHealthy(from: string): Promise<true> {
  const res = await execa('docker', ['exec', from, ...etcdctlArgs(), 'endpoint', 'health', '--cluster'], { reject: false, timeout: 30_000 });
  if (res.exitCode !== 0) throw new Error(`${res.stdout} ${res.stderr}`.trim());
  return true;
}

/** The worker's Ready condition, as the API has it. */
async function workerReady(node: string): Promise<{ status: string; lastHeartbeatTime: string } | undefined> {
  const res = await viaEndpoint(`/api/v1/nodes/${node}`, { timeoutMs: 5000 });
  if (res.status !== 200) throw new Error(`GET node ${node}: ${res.status}`);
  return (JSON.parse(res.body) as { status: { conditions: { type: string; status: string; lastHeartbeatTime: string }[] } }).status.conditions.find((c) => c.type === 'Ready');
}

phase('a Deployment of the test image runs on the worker', async () => {
  // `cluster` loads the pause and CoreDNS images; the test image is loaded by its own target (as cluster:smoke's).
  const load = await cli(`load:echo@${WORKERS[0]}`);
  assert.is(load.code, 0, load.output.slice(-2000));
  const created = await viaEndpoint('/apis/apps/v1/namespaces/default/deployments', { method: 'POST', body: echoDeployment });
  assert.is(created.status, 201, created.body.slice(0, 300));
  const ms = await echoAvailable(1);
  process.stdout.write(`ha-echo available ${(ms / 1000).toFixed(1)} s after it was created\n`);
});

phase('one control plane stopped: the endpoint drops it within seconds, requests through it keep working, the worker stays Ready; etcd keeps quorum; back up, cluster converges', async () => {
  // Stop the apiserver the worker's kubelet is connected through, so its own connection has to move.
  const victim = (await workerServer()) ?? 'controller-2';
  const v = CONTROL_PLANES.indexOf(victim);
  assert.ok(v >= 0, `HAProxy names server ${victim}`);
  const live = CP_IPS[v === 0 ? 1 : 0]!;
  const liveContainer = `${CLUSTER}-${CONTROL_PLANES[v === 0 ? 1 : 0]}`;
  process.stdout.write(`worker-1's connections go to ${victim}: stopping it; kube-controller-manager's leader is ${await leaseHolder('kube-controller-manager')}\n`);
  // A kubelet reports Ready before its lease controller has created the node's Lease (CI saw a 404 right
  // after the cluster came up): wait for the Lease to exist before measuring its renewals.
  const leaseBefore = await until(`${WORKERS[0]}'s node Lease exists`, 60_000, () => leaseRenewTime(WORKERS[0]!));

  const loop = requestLoop(20_000, 200);
  await new Promise((r) => setTimeout(r, 2000));
  const stopAt = performance.now();
  const stopping = execa('docker', ['stop', container(victim)], { reject: false, timeout: 120_000 });
  const markedDownMs = await until(`HAProxy marks ${victim} DOWN`, 30_000, async () => ((await serverStatus())[victim]?.startsWith('DOWN') ? performance.now() - stopAt : undefined));
  const stop = await stopping;
  const stoppedMs = performance.now() - stopAt;
  assert.is(stop.exitCode, 0, String(stop.stderr));
  try {
    const figures = loopFigures(await loop);
    printLoop(
      `docker stop: request loop through 127.0.0.1:${HOST_PORT}/readyz, every 200 ms for 20 s, ${victim} stopped at 2.0 s (docker stop took ${(stoppedMs / 1000).toFixed(1)} s, HAProxy marked it DOWN ${(markedDownMs / 1000).toFixed(1)} s after the stop began)`,
      figures,
      2000,
    );
    assert.ok(figures.requests >= 50, `only ${figures.requests} requests in 20 s`);
    assert.ok(figures.longestGapMs < 5000, `no successful request for ${Math.round(figures.longestGapMs)} ms`);
    assert.ok(figures.failed.length <= 10, `${figures.failed.length} of ${figures.requests} requests failed`);
    // The worker's kubelet moved to a live apiserver through the endpoint: its lease was renewed meanwhile.
    const leaseAfter = await until('worker-1 lease renewed with the victim down', 30_000, async () => {
      const t = await leaseRenewTime(WORKERS[0]!);
      return t !== leaseBefore ? t : undefined;
    });
    process.stdout.write(`worker-1 lease renewed: ${leaseBefore} → ${leaseAfter}\n`);
    const nodeRes = await viaEndpoint(`/api/v1/nodes/${WORKERS[0]}`);
    const ready = (JSON.parse(nodeRes.body) as { status: { conditions: { type: string; status: string }[] } }).status.conditions.find((c) => c.type === 'Ready');
    assert.is(ready?.status, 'True', `worker-1 with ${victim} down: ${JSON.stringify(ready)}`);
    await scaleEcho(2, `${victim} stopped`);

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
    const start = await execa('docker', ['start', container(victim)], { reject: false, timeout: 120_000 });
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

phase('the etcd leader\'s node killed: a new leader, requests through the endpoint fail for a few seconds at most, the worker stays Ready, a Deployment scales; started again, it converges with no action and a cluster run builds only what its probes name', async () => {
  const statuses = await etcdStatus(container('controller-1'), CP_IPS);
  const oldLeader = leaderIp(statuses);
  assert.ok(oldLeader, `no etcd member says it leads: ${JSON.stringify(statuses)}`);
  const v = CP_IPS.indexOf(oldLeader);
  const victim = CONTROL_PLANES[v]!;
  const liveIps = CP_IPS.filter((ip) => ip !== oldLeader);
  const liveContainer = container(CONTROL_PLANES[CP_IPS.indexOf(liveIps[0]!)]!);
  process.stdout.write(`etcd leader: ${victim} (${oldLeader}); kube-controller-manager's leader: ${await leaseHolder('kube-controller-manager')}; killing ${container(victim)}\n`);
  const leaseBefore = await leaseRenewTime(WORKERS[0]!);

  const loop = requestLoop(30_000, 200);
  await new Promise((r) => setTimeout(r, 2000));
  const killAt = performance.now();
  const kill = await execa('docker', ['kill', container(victim)], { reject: false, timeout: 60_000 });
  const killedMs = performance.now() - killAt;
  assert.is(kill.exitCode, 0, String(kill.stderr));
  try {
    // Polled from a live member, five times a second: when the two others have agreed on a new leader.
    const [elected, markedDownMs] = await Promise.all([
      until('a new etcd leader', 30_000, async () => {
        const ip = leaderIp(await etcdStatus(liveContainer, liveIps));
        return ip && ip !== oldLeader ? { ip, ms: performance.now() - killAt } : undefined;
      }, 200),
      until(`HAProxy marks ${victim} DOWN`, 30_000, async () => ((await serverStatus())[victim]?.startsWith('DOWN') ? performance.now() - killAt : undefined), 200),
    ]);
    const figures = loopFigures(await loop);
    printLoop(
      `docker kill: request loop through 127.0.0.1:${HOST_PORT}/readyz, every 200 ms for 30 s, ${victim} (the etcd leader) killed at 2.0 s (docker kill returned after ${(killedMs / 1000).toFixed(1)} s); new etcd leader ${CONTROL_PLANES[CP_IPS.indexOf(elected.ip)]} seen ${(elected.ms / 1000).toFixed(1)} s after the kill, HAProxy marked ${victim} DOWN after ${(markedDownMs / 1000).toFixed(1)} s`,
      figures,
      2000,
    );
    assert.ok(figures.requests >= 50, `only ${figures.requests} requests in 30 s`);
    // Errors for a bounded few seconds, then none: every failure within 15 s of the kill, nothing after.
    const late = figures.failed.filter((x) => x.at - 2000 > 15_000);
    assert.equal(late.map((x) => `${(x.at / 1000).toFixed(1)} s: ${x.what}`), [], 'requests still failed more than 15 s after the kill');
    assert.ok(figures.longestGapMs < 10_000, `no successful request for ${Math.round(figures.longestGapMs)} ms`);

    const leaseAfter = await until(`${WORKERS[0]} lease renewed with ${victim} killed`, 30_000, async () => {
      const t = await leaseRenewTime(WORKERS[0]!);
      return t !== leaseBefore ? t : undefined;
    });
    process.stdout.write(`${WORKERS[0]} lease renewed: ${leaseBefore} → ${leaseAfter}\n`);
    await scaleEcho(3, `${victim} killed`);
    assert.is((await workerReady(WORKERS[0]!))?.status, 'True', `${WORKERS[0]} with ${victim} killed`);
    const name = `ha-leader-killed-${Date.now()}`;
    const created = await until(`Secret created with ${victim} killed`, 30_000, async () => {
      const res = await viaEndpoint(SECRETS, { method: 'POST', body: secretBody(name, 'new leader'), timeoutMs: 10_000 });
      if (res.status === 201) return res;
      throw new Error(`POST ${res.status} ${res.body.slice(0, 200)}`);
    });
    assert.is(created.status, 201);
  } finally {
    const start = await execa('docker', ['start', container(victim)], { reject: false, timeout: 120_000 });
    assert.is(start.exitCode, 0, String(start.stderr));
  }
  // Back with no action: systemd in the node starts etcd, which rejoins, then the apiserver; HAProxy's checks
  // bring it back into the rotation.
  const startedAt = performance.now();
  await until(`${victim}'s etcd member healthy again`, 180_000, () => etcdAllHealthy(liveContainer));
  const etcdMs = performance.now() - startedAt;
  await until(`${victim}'s apiserver ready again`, 180_000, async () => ((await api(oldLeader, '/readyz', { timeoutMs: 3000 })).status === 200 ? true : undefined));
  await until(`HAProxy marks ${victim} UP again`, 60_000, async () => ((await serverStatus())[victim] === 'UP' ? true : undefined), 500);
  process.stdout.write(`${victim} after docker start: every etcd member healthy after ${(etcdMs / 1000).toFixed(1)} s, its apiserver ready and UP in HAProxy after ${((performance.now() - startedAt) / 1000).toFixed(1)} s, nothing run\n`);
  const statusAfter = await etcdStatus(liveContainer, CP_IPS);
  assert.is(statusAfter.length, 3, JSON.stringify(statusAfter));
  assert.is(new Set(statusAfter.map((s) => s.leader)).size, 1, `the members disagree on the leader: ${JSON.stringify(statusAfter)}`);

  // The converged cluster: one run, which builds nothing, or only targets whose probes name a reason.
  const run = await cli('cluster', '--explain');
  assert.is(run.code, 0, run.output.slice(-3000));
  const reasons = Object.fromEntries([...run.output.matchAll(/^▶ (\S+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  process.stdout.write(`cluster after the kill and start: built ${run.built.length}${run.built.map((t) => `\n  ${t}: ${reasons[t] ?? '(no reason printed)'}`).join('')}\n`);
  for (const t of run.built) assert.match(reasons[t] ?? '', /^probe: /, `${t} was built for a reason no probe named: ${reasons[t]}`);
});

phase('the high-availability chapter\'s marked commands work against this cluster', async () => {
  const report = await runDocCommands({
    clusterName: CLUSTER,
    kubeconfig: join(root, 'output/kubeconfig/admin.kubeconfig'),
    outDir: join(root, 'output'),
    cwd: root,
    docsDir: join(repo, 'docs'),
    pathPrepend: [dirname(builtKubectl())],
    replacements: [['10.240.0.', '10.244.0.'], ['127.0.0.1:6443', `127.0.0.1:${HOST_PORT}`]],
    filter: onTestCluster('ha'),
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  assert.ok(report.outcomes.length >= 5, `only ${report.outcomes.length} commands`);
  assert.ok(report.ok, formatFailures(report));
});

phase('the endpoint after docker restart answers again by itself; after docker rm -f the next cluster run recreates exactly it', async () => {
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
  // cluster:* and ready:* only wait (for /readyz, for Ready): with the endpoint gone for longer than the
  // node monitor's grace period (a loaded machine), the worker's lease lapses and ready:worker-1:node waits.
  assert.equal(run.built.filter((t) => !/^(cluster|ready):/.test(t)).sort(), ['endpoint:container', 'endpoint:config'].sort(), run.built.join(' '));
  const res = await viaEndpoint('/readyz');
  assert.is(res.status, 200, res.body.slice(0, 300));
});

phase('docker restart of every container at once, the endpoint included: all nodes Ready again with no action, then a cluster run builds nothing', async () => {
  // All at once, as a host reboot does (one `docker restart a b c` would restart them one after another).
  const restartedAt = Date.now();
  const started = performance.now();
  const restarts = await Promise.all(ALL_CONTAINERS.map((c) => execa('docker', ['restart', c], { reject: false, timeout: 180_000 })));
  for (const [i, r] of restarts.entries()) assert.is(r.exitCode, 0, `docker restart ${ALL_CONTAINERS[i]}: ${r.stderr}`);
  const restartMs = performance.now() - started;
  const firstAnswer = await until('/readyz through the endpoint after the restart', 300_000, async () => ((await viaEndpoint('/readyz', { timeoutMs: 2000 })).status === 200 ? performance.now() - started : undefined), 500);
  // A Node stays Ready in the API for a while after its kubelet stops: count it only once its kubelet,
  // started again by systemd, has posted a fresh status.
  await until('the worker Ready with a status posted after the restart', 300_000, async () => {
    const ready = await workerReady(WORKERS[0]!);
    return ready?.status === 'True' && Date.parse(ready.lastHeartbeatTime) >= restartedAt - 1000 ? true : undefined;
  });
  const readyMs = performance.now() - started;
  for (const ip of CP_IPS) await until(`${ip}'s apiserver ready after the restart`, 120_000, async () => ((await api(ip, '/readyz', { timeoutMs: 3000 })).status === 200 ? true : undefined));
  await until('every etcd member healthy after the restart', 120_000, () => etcdAllHealthy(container('controller-1')));
  await until('every apiserver UP in HAProxy after the restart', 60_000, async () => {
    const s = await serverStatus();
    return CONTROL_PLANES.every((cp) => s[cp] === 'UP') ? true : undefined;
  });
  const convergedMs = performance.now() - started;
  const echoMs = await echoAvailable(3, 180_000);
  process.stdout.write(
    `docker restart of ${ALL_CONTAINERS.length} containers at once took ${(restartMs / 1000).toFixed(1)} s; the endpoint answered /readyz ${(firstAnswer / 1000).toFixed(1)} s, ` +
      `${WORKERS[0]} Ready ${(readyMs / 1000).toFixed(1)} s, every apiserver ready, etcd member healthy and HAProxy server UP ${(convergedMs / 1000).toFixed(1)} s after the restart began; ` +
      `ha-echo's 3 replicas available ${((convergedMs + echoMs) / 1000).toFixed(1)} s after it; nothing run\n`,
  );
  const noop = await cli('cluster', '--explain');
  assert.is(noop.code, 0, noop.output.slice(-3000));
  assert.equal(noop.built, [], `after a restart of every container the run built ${noop.built.join(' ')}:\n${noop.output.split('\n').filter((l) => l.startsWith('▶')).join('\n')}`);
});

phase('clean:nodes removes the containers and the network', async () => {
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
