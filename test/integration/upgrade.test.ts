// A Kubernetes upgrade of a running cluster through the real CLI (issue 15): its own cluster harder-t-upgrade
// (10.247.0.0/24, API host port 7247), 3 control planes + 2 workers, created at v1.33.13 with the echo
// workload (2 replicas, a PDB, pods that keep serving 5 s after termination starts) behind a NodePort. Then:
// a dry run prints the plan in the policy's order and writes nothing; a skip-minor spec (v1.35.4) is refused
// in one message before anything builds; the run to v1.34.4 under two request loops (the NodePort, and API
// reads through the endpoint) fails no request, restarts in the policy's order (every apiserver, one at a time;
// then controller-manager and scheduler; then each worker drained, restarted, uncordoned before the next)
// and leaves every node on v1.34.4; the next run builds nothing; a downgrade across minors is refused.
//
// UPGRADE_TEST_ROOT=<dir>: use (and keep between runs until cleanup) that project root instead of a fresh
// scratch one, so a cluster created there beforehand at v1.33.13 is reused (the first `cluster` is a no-op).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRootAt, scratchProjectRoot } from '../lib/scratch-root.ts';
import { get, requestLoop } from '../lib/request-loop.ts';
import { echoWorkload } from '../lib/echo-workload.ts';
import { until } from '../lib/until.ts';
import { cleanUpOnExit } from '../lib/docker-cleanup.ts';
import { apiRequest, loadIdentity, type TlsIdentity } from '../../tasks/cluster/api-client.ts';
import { noAddons } from '../../tasks/addons/spec.ts';

const CLUSTER = 'harder-t-upgrade';
const HOST_PORT = 7247;
const FROM = 'v1.33.13';
const TO = 'v1.34.4';
const CPS = ['controller-1', 'controller-2', 'controller-3'];
const WORKERS = ['worker-1', 'worker-2'];
const CP_IPS: Record<string, string> = { 'controller-1': '10.247.0.10', 'controller-2': '10.247.0.11', 'controller-3': '10.247.0.12' };
const WORKER_1_IP = '10.247.0.20';
const NS = 'upgrade';
const APP = 'upgrade-echo';
const container = (node: string) => `${CLUSTER}-${node}`;

const root = process.env.UPGRADE_TEST_ROOT ? projectRootAt(process.env.UPGRADE_TEST_ROOT) : scratchProjectRoot('harder-t-upgrade-');
const configFile = join(root, 'upgrade-config.json');
const stateDir = join(root, 'output');
const journal = join(stateDir, '.harder/state.log');
const writeSpec = (version: string) =>
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        clusterName: CLUSTER,
        nodeSubnet: '10.247.0.0/24',
        apiHostPort: HOST_PORT,
        mergeKubeconfig: false,
        binarySource: 'go',
        addons: noAddons(),
        kubernetesVersion: version,
        nodes: [...CPS.map((name) => ({ name, role: 'control-plane' })), ...WORKERS.map((name) => ({ name, role: 'worker' }))],
      },
      null,
      2,
    ),
  );
writeSpec(FROM);
// UPGRADE_TEST_KEEP=1 (with UPGRADE_TEST_ROOT): leave the cluster and its root for another try (debugging only).
const keep = process.env.UPGRADE_TEST_KEEP === '1' && !!process.env.UPGRADE_TEST_ROOT;
const exitCleanup = keep ? { done: () => {} } : cleanUpOnExit(`label=harder.cluster=${CLUSTER}`, [root]);

type Run = { code: number; output: string; built: string[]; wallMs: number; lines: { at: number; line: string }[] };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  const child = execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '-j', '6'], { cwd: root, reject: false, all: true, timeout: 80 * 60_000 });
  // Each line with the wall-clock time it arrived: a failed request in a loop is matched to what the run did then.
  const lines: { at: number; line: string }[] = [];
  let partial = '';
  child.all?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push({ at: Date.now(), line });
  });
  const res = await child;
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  const wallMs = performance.now() - started;
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${(wallMs / 1000).toFixed(1)} s, built ${built.length}\n${output.split('\n').filter((l) => /✗|upgrade|refused|kubernetesVersion|built, |cordon|drain/.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built, wallMs, lines };
}

let admin: TlsIdentity | undefined;
const identity = (): TlsIdentity => (admin ??= loadIdentity({ ca: join(stateDir, 'pki/ca.crt'), cert: join(stateDir, 'pki/admin.crt'), key: join(stateDir, 'pki/admin.key') }));
const viaEndpoint = (path: string, opts: Parameters<typeof apiRequest>[2] = {}) => apiRequest(`https://127.0.0.1:${HOST_PORT}${path}`, identity(), opts);

function kubectlPath(): string {
  const cache = process.env.HARDER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/harder');
  for (const version of [TO, FROM]) {
    const built = join(cache, `bin/${version}/go/kubectl`);
    if (existsSync(built)) return built;
  }
  return 'kubectl';
}

async function kubectl(args: string[], input?: string): Promise<{ code: number; out: string }> {
  const res = await execa(kubectlPath(), ['--kubeconfig', join(stateDir, 'kubeconfig/admin.kubeconfig'), ...args], { reject: false, timeout: 180_000, input });
  return { code: res.exitCode ?? -1, out: `${res.stdout}${res.stderr ? `\n${res.stderr}` : ''}`.trim() };
}

async function inNode(node: string, ...argv: string[]): Promise<string> {
  const res = await execa('docker', ['exec', container(node), ...argv], { reject: false, timeout: 60_000, all: true });
  return String(res.all ?? '').trim();
}

/** Each Node's kubeletVersion, as the API reports it. */
async function kubeletVersions(): Promise<Record<string, string>> {
  const res = await kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.nodeInfo.kubeletVersion}{"\\n"}{end}']);
  assert.is(res.code, 0, res.out);
  return Object.fromEntries(res.out.split('\n').filter(Boolean).map((l) => l.split('=') as [string, string]));
}

/** What every apiserver says it is (/version on its own address). */
async function apiserverVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [cp, ip] of Object.entries(CP_IPS)) {
    const res = await apiRequest(`https://${ip}:6443/version`, identity(), { timeoutMs: 5000 });
    assert.is(res.status, 200, `${cp} /version: ${res.status} ${res.body.slice(0, 200)}`);
    out[cp] = (JSON.parse(res.body) as { gitVersion: string }).gitVersion;
  }
  return out;
}

/** The version each node's installed binaries report (controller-manager and scheduler have no /version of their own here). */
async function binaryVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const cp of CPS) for (const b of ['kube-controller-manager', 'kube-scheduler']) out[`${cp}/${b}`] = (await inNode(cp, `/usr/local/bin/${b}`, '--version')).replace(/^Kubernetes /, '');
  for (const w of WORKERS) out[`${w}/kube-proxy`] = (await inNode(w, '/usr/local/bin/kube-proxy', '--version')).replace(/^Kubernetes /, '');
  return out;
}

/** The etcd release each control plane's member runs (`etcd --version`: `etcd Version: 3.6.17`). */
async function etcdVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const cp of CPS) out[cp] = /etcd Version: (\S+)/.exec(await inNode(cp, '/usr/local/bin/etcd', '--version'))?.[1] ?? '?';
  return out;
}

type Sample = { at: number; wall: number; ok: boolean; what: string };

/** API reads through the endpoint's published port every `everyMs` (a new TLS connection each time) until stopped. */
function apiLoop(everyMs: number): { stop(): Promise<Sample[]> } {
  const samples: Sample[] = [];
  let stopping = false;
  const started = performance.now();
  const loop = (async () => {
    while (!stopping) {
      const at = performance.now() - started;
      const wall = Date.now();
      samples.push(
        await viaEndpoint('/api/v1/namespaces/kube-system', { timeoutMs: 3000 }).then(
          (res) => ({ at, wall, ok: res.status === 200, what: `${res.status} ${res.body.slice(0, 120)}` }),
          (error: Error) => ({ at, wall, ok: false, what: error.message.slice(0, 120) }),
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

function apiReport(samples: Sample[]): { failed: Sample[]; longestGap: number } {
  const failed = samples.filter((x) => !x.ok);
  let longestGap = 0;
  let lastOk = 0;
  for (const x of samples) {
    if (!x.ok) continue;
    longestGap = Math.max(longestGap, x.at - lastOk);
    lastOk = x.at;
  }
  process.stdout.write(
    `request loop through 127.0.0.1:${HOST_PORT}/api/v1/namespaces/kube-system every 100 ms: ${samples.length} requests, ${failed.length} failed, longest gap ${Math.round(longestGap)} ms\n` +
      failed.slice(0, 20).map((x) => `  failed at ${(x.at / 1000).toFixed(1)} s: ${x.what}\n`).join(''),
  );
  return { failed, longestGap };
}

/** For a failed API request: what the run printed from 8 s before it to 4 s after, and the endpoint's log (which apiserver it went to, how it ended). */
async function explainMiss(miss: Sample, run: Run): Promise<void> {
  const from = miss.wall - 8000;
  const to = miss.wall + 4000;
  const stamp = (ms: number) => new Date(ms).toISOString().slice(11, 23);
  const said = run.lines.filter((l) => l.at >= from && l.at <= to).map((l) => `    ${stamp(l.at)} ${l.line}`);
  const logs = await execa('docker', ['logs', '-t', '--since', new Date(from).toISOString(), '--until', new Date(to).toISOString(), `${CLUSTER}-api`], { reject: false, all: true });
  process.stdout.write(`  request at ${stamp(miss.wall)} failed (${miss.what}); the run printed:\n${said.join('\n')}\n  the endpoint's log:\n${String(logs.all ?? '').split('\n').map((l) => `    ${l}`).join('\n')}\n`);
}

const journalStamp = () => (existsSync(journal) ? `${statSync(journal).size}:${statSync(journal).mtimeMs}` : 'none');

let nodePortUrl = '';

test(`a 3 + 2 cluster at ${FROM} with the echo workload behind a NodePort`, async () => {
  // `cluster` loads only the pause and CoreDNS images; the echo image is loaded by its own targets.
  const run = await cli('cluster', ...WORKERS.map((w) => `load:echo@${w}`));
  assert.is(run.code, 0, run.output.slice(-4000));
  const bin = /^✓ bin:kubernetes \(([^)]+)\)/m.exec(run.output);
  if (bin) process.stdout.write(`bin:kubernetes ${FROM}: ${bin[1]} in this run\n`);
  assert.equal(await kubeletVersions(), { 'worker-1': FROM, 'worker-2': FROM });
  assert.equal(await apiserverVersions(), Object.fromEntries(CPS.map((cp) => [cp, FROM])));
  // kubeadm pairs etcd 3.5 with Kubernetes 1.33.
  for (const [cp, version] of Object.entries(await etcdVersions())) assert.match(version, /^3\.5\./, cp);
  const applied = await kubectl(['apply', '-f', '-'], echoWorkload({ namespace: NS, app: APP, preStopSleepS: 5 }));
  assert.is(applied.code, 0, applied.out);
  const rollout = await kubectl(['-n', NS, 'rollout', 'status', `deployment/${APP}`, '--timeout=180s']);
  assert.is(rollout.code, 0, rollout.out);
  const port = (await kubectl(['-n', NS, 'get', 'service', APP, '-o', 'jsonpath={.spec.ports[0].nodePort}'])).out;
  nodePortUrl = `http://${WORKER_1_IP}:${port}/`;
  await until(`${nodePortUrl} answers`, 90_000, async () => (await get(nodePortUrl, 2000)) || undefined);
});

test(`--dry-run --explain to ${TO} prints the plan in the policy's order and writes nothing`, async () => {
  writeSpec(TO);
  const before = journalStamp();
  const run = await cli('cluster', '--dry-run', '--explain');
  assert.is(run.code, 0, run.output.slice(-4000));
  assert.equal(run.built, []);
  assert.is(journalStamp(), before, 'the dry run wrote the journal');
  const plan = run.output.split('\n').filter((l) => /^\s+\d+\. /.test(l));
  process.stdout.write(`${run.output.split('\n').filter((l) => /^upgrade:|^\s+phase |^\s+\d+\. /.test(l)).join('\n')}\n`);
  const expected = [
    ...CPS.map((cp) => `${cp}: kube-apiserver ${FROM} → ${TO}`),
    ...CPS.map((cp) => `${cp}: kube-controller-manager ${FROM} → ${TO}`),
    ...CPS.map((cp) => `${cp}: kube-scheduler ${FROM} → ${TO}`),
    ...WORKERS.flatMap((w) => [`${w}: cordon, drain`, `${w}: kubelet ${FROM} → ${TO}`, `${w}: kube-proxy ${FROM} → ${TO}`, `${w}: uncordon`]),
  ];
  assert.is(plan.length, expected.length, plan.join('\n'));
  expected.forEach((what, i) => assert.ok(plan[i]!.includes(`${i + 1}. ${what}`), `step ${i + 1}: expected "${what}", got "${plan[i]}"`));
  // etcd moves too (1.34 pairs with 3.6), and its line comes first.
  assert.match(run.output, /^upgrade: etcd v3\.5\.\d+ → v3\.6\.\d+, one member at a time.*: controller-1, controller-2, controller-3$/m);
  // --explain names the upgrade's targets with why they would run.
  for (const w of WORKERS) for (const step of ['drain', 'uncordon']) assert.match(run.output, new RegExp(`upgrade:${w}:${step}`));
  assert.equal(await kubeletVersions(), { 'worker-1': FROM, 'worker-2': FROM });
  assert.is((await kubectl(['get', 'node', 'worker-1', '-o', 'jsonpath={.spec.unschedulable}'])).out, '', 'the dry run cordoned worker-1');
});

test(`a skip-minor spec (v1.35.4 from ${FROM}) is refused in one message, before anything builds`, async () => {
  writeSpec('v1.35.4');
  const before = journalStamp();
  const run = await cli('cluster');
  assert.is(run.code, 2, run.output.slice(-3000));
  assert.match(run.output, /kubernetesVersion: v1\.35\.4 skips v1\.34: the cluster runs v1\.33\.13/);
  assert.match(run.output, /allows one minor up at a time and no downgrade across minors: use a v1\.33 patch release \(up or down\) or a v1\.34 release/);
  // One message: not also the "1.35 is not supported" config error.
  assert.not.match(run.output, /is not supported/);
  assert.equal(run.built, []);
  assert.not.match(run.output, /^▶ /m, 'something started building');
  assert.is(journalStamp(), before);
  assert.equal(await kubeletVersions(), { 'worker-1': FROM, 'worker-2': FROM });
});

let upgradeMs = 0;

test(`the run to ${TO} under a NodePort loop and an API loop: zero failed requests, the policy's order, every node on ${TO}`, async () => {
  assert.ok(nodePortUrl, 'no NodePort: the workload was not set up (first test)');
  writeSpec(TO);
  const nodePort = requestLoop(nodePortUrl);
  const api = apiLoop(100);
  await new Promise((r) => setTimeout(r, 1000));
  const run = await cli('cluster');
  await new Promise((r) => setTimeout(r, 2000));
  const counts = await nodePort.stop('the echo NodePort');
  const samples = await api.stop();
  upgradeMs = run.wallMs;
  assert.is(run.code, 0, run.output.slice(-5000));
  const { failed } = apiReport(samples);
  // When each restart began and ended, in seconds of the API loop, to read its figures (and a failure's time) against.
  const loopStart = samples[0]?.wall ?? 0;
  const steps = run.lines.filter((l) => /^[▶✓] (unit|rollout|upgrade):/.test(l.line)).map((l) => `${((l.at - loopStart) / 1000).toFixed(1)} s ${l.line}`);
  process.stdout.write(`the run's restarts, in seconds of the API loop:\n${steps.map((l) => `  ${l}\n`).join('')}`);
  for (const miss of failed.slice(0, 3)) await explainMiss(miss, run);
  process.stdout.write(`upgrade ${FROM} → ${TO}: wall time ${(run.wallMs / 1000).toFixed(1)} s, built ${run.built.length}\n`);

  // The order the run finished them in (✓ lines come in completion order).
  const at = (name: string) => {
    const i = run.built.indexOf(name);
    assert.ok(i >= 0, `${name} was not built: ${run.built.join(' ')}`);
    return i;
  };
  const apiservers = CPS.map((cp) => at(`unit:${cp}:kube-apiserver`));
  // etcd first, one member at a time (each member's restart waits until it is healthy and its apiserver back
  // in the endpoint), and every member before any apiserver.
  const etcds = CPS.map((cp) => at(`unit:${cp}:etcd`));
  assert.equal(etcds, [...etcds].sort((a, b) => a - b), 'etcd members not one control plane after the other');
  assert.ok(Math.max(...etcds) < Math.min(...apiservers), 'an apiserver restarted before the last etcd member');
  for (const cp of CPS) assert.match(run.output, `${cp}'s apiserver is back in the API endpoint`);
  // Each apiserver's own restart too: out of the endpoint before it stops, back once it is ready.
  for (const cp of CPS) assert.match(run.output, `took ${cp}'s apiserver out of the API endpoint (drain) while it restarts`);
  // The leader's turn comes (leadership moves only by these hand-overs), and it hands over before it restarts.
  const handovers = run.output.split('\n').filter((l) => /is the etcd leader: etcdctl move-leader/.test(l));
  process.stdout.write(`${handovers.join('\n')}\n`);
  assert.ok(handovers.length >= 1, 'no etcd leader handed its leadership over before its restart');
  assert.not.match(run.output, /the leadership stayed on/);
  assert.equal(apiservers, [...apiservers].sort((a, b) => a - b), 'apiservers not one control plane after the other');
  for (const cp of CPS.slice(0, -1)) at(`rollout:${cp}:kube-apiserver`);
  const controllers = CPS.flatMap((cp) => [at(`unit:${cp}:kube-controller-manager`), at(`unit:${cp}:kube-scheduler`)]);
  assert.ok(Math.max(...apiservers) < Math.min(...controllers), 'a controller-manager or scheduler restarted before the last apiserver');
  let last = Math.max(...controllers);
  for (const w of WORKERS) {
    const drain = at(`upgrade:${w}:drain`);
    const kubelet = at(`unit:${w}:kubelet`);
    const proxy = at(`unit:${w}:kube-proxy`);
    const uncordon = at(`upgrade:${w}:uncordon`);
    assert.ok(last < drain, `${w} drained before the step before it finished`);
    assert.ok(drain < kubelet && drain < proxy, `${w}: kubelet or kube-proxy restarted before the drain`);
    assert.ok(kubelet < uncordon && proxy < uncordon, `${w}: uncordoned before its kubelet and kube-proxy`);
    last = uncordon;
  }
  assert.match(run.output, /upgrade: Kubernetes v1\.33\.13 → v1\.34\.4, in this order/);

  assert.equal(await kubeletVersions(), { 'worker-1': TO, 'worker-2': TO });
  assert.equal(await apiserverVersions(), Object.fromEntries(CPS.map((cp) => [cp, TO])));
  const binaries = await binaryVersions();
  for (const [what, version] of Object.entries(binaries)) assert.is(version, TO, what);
  for (const [cp, version] of Object.entries(await etcdVersions())) assert.match(version, /^3\.6\./, cp);
  for (const w of WORKERS) assert.is((await kubectl(['get', 'node', w, '-o', 'jsonpath={.spec.unschedulable}'])).out, '', `${w} left cordoned`);
  // Both versions stay in the binary cache side by side.
  const cache = process.env.HARDER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/harder');
  for (const version of [FROM, TO]) assert.ok(existsSync(join(cache, `bin/${version}/go/kubelet`)), `no ${version} kubelet in the cache`);

  assert.ok(counts.requests >= 100, `only ${counts.requests} NodePort requests`);
  assert.is(counts.failures, 0, `${counts.failures} of ${counts.requests} NodePort requests failed during the upgrade`);
  assert.ok(samples.length >= 100, `only ${samples.length} API requests`);
  assert.is(failed.length, 0, `${failed.length} of ${samples.length} API requests failed during the upgrade`);
});

test('the run after the upgrade builds nothing', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built, [], run.built.join(' '));
  assert.not.match(run.output, /upgrade: Kubernetes/);
});

test(`a downgrade across minors (back to ${FROM}) is refused in one message, changing nothing`, async () => {
  writeSpec(FROM);
  const before = journalStamp();
  const run = await cli('cluster');
  assert.is(run.code, 2, run.output.slice(-3000));
  assert.match(run.output, /kubernetesVersion: v1\.33\.13 is a downgrade across minors: the cluster runs v1\.34\.4/);
  assert.match(run.output, /use a v1\.34 patch release \(up or down\) or a v1\.35 release/);
  assert.equal(run.built, []);
  assert.is(journalStamp(), before);
  assert.equal(await kubeletVersions(), { 'worker-1': TO, 'worker-2': TO });
  process.stdout.write(`upgrade wall time ${(upgradeMs / 1000).toFixed(1)} s\n`);
});

test.after(async () => {
  if (keep) return;
  writeSpec(TO);
  await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--config', configFile, '--plain'], { cwd: root, reject: false, timeout: 300_000 });
  exitCleanup.done();
});

test.run();
