// Certificate renewal on a live 1+2 cluster through the real CLI (harder-t-renew, 10.252.0.0/24, host port
// 7252), with a request loop from the host to a NodePort in front of a 2-replica Deployment with a PDB:
// four certificates are re-issued by the test as if 340 days ago (lib/pki with an earlier `now`, keys kept),
// `certs:renew --threshold 60` picks exactly those, and the next `cluster` reinstalls them and restarts
// exactly kube-apiserver and, one worker at a time, kubelet and kube-proxy; then `certs --force` + `cluster`
// rotates every leaf and restarts every unit that reads one, again one node at a time. Both with zero
// failed requests (counts and longest gaps printed); serials changed, keys unchanged, certs:check clean,
// and a second `cluster` builds nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { get, requestLoop } from '../lib/request-loop.ts';
import { echoWorkload } from '../lib/echo-workload.ts';
import { until } from '../lib/until.ts';
import { noAddons } from '../../tasks/addons/spec.ts';
import { cleanUpOnExit, removeByLabelSync } from '../lib/docker-cleanup.ts';
import { describeCertificate } from '../../lib/pki/inspect.ts';
import { issueToFiles } from '../../lib/pki/issue-to-files.ts';
import { defaultConfig, type ClusterConfig } from '../../tasks/config/config.ts';
import { certCatalog, SIGNING_CONFIG, type CertSpec } from '../../tasks/certs/catalog.ts';
import { defaultKeySpec } from '../../tasks/certs/pki.ts';
import { planIps } from '../../tasks/net/ip-plan.ts';
import { controlPlanePaths, workerPaths, etcdPaths } from '../../tasks/cluster/layout.ts';

const CLUSTER = 'harder-t-renew';
const LABEL = `label=harder.cluster=${CLUSTER}`;
const NS = 'renew';
const APP = 'renew-echo';
const spec = { clusterName: CLUSTER, nodeSubnet: '10.252.0.0/24', binarySource: 'go' as const, mergeKubeconfig: false, apiHostPort: 7252, addons: noAddons() };
// The spec as the CLI makes it, for the certificate catalogue (its paths and per-node values); add-ons play no part there.
const config: ClusterConfig = { ...defaultConfig, ...spec, addons: defaultConfig.addons };
const catalog = new Map(certCatalog(config, planIps(config)).map((c) => [c.id, c]));
const WORKER_1_IP = '10.252.0.20';
const CP = 'controller-1';
const WORKERS = ['worker-1', 'worker-2'];
/** Every long-running unit on each node, and the oneshots beside them: what may or may not restart. */
const UNITS: Record<string, string[]> = {
  [CP]: ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'node-sysctl', 'pod-routes'],
  'worker-1': ['containerd', 'kubelet', 'kube-proxy', 'kubelet-prepare', 'node-sysctl', 'pod-routes'],
  'worker-2': ['containerd', 'kubelet', 'kube-proxy', 'kubelet-prepare', 'node-sysctl', 'pod-routes'],
};
/** The certificates the test ages: one on the control plane, one per worker, and one every worker shares (in a kubeconfig). */
const AGED = ['kube-apiserver:controller-1', 'kubelet-serving:worker-1', 'kubelet-serving:worker-2', 'kube-proxy'];

const root = scratchProjectRoot('harder-t-renew-');
const configFile = join(root, 'renew-config.json');
writeFileSync(configFile, JSON.stringify(spec, null, 2));
const kubeconfig = join(root, 'output/kubeconfig/admin.kubeconfig');
const exitCleanup = cleanUpOnExit(LABEL, [root]);

type Run = { code: number; output: string; built: string[]; wallMs: number };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '--verbose', '-j', '6'], { cwd: root, reject: false, all: true, timeout: 30 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  const wallMs = performance.now() - started;
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${(wallMs / 1000).toFixed(1)} s, built ${built.length}\n${output.split('\n').filter((l) => /✗|built, |would build certs|renewed|rollout:.*back in service/.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built, wallMs };
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

async function inNode(node: string, ...argv: string[]): Promise<string> {
  const res = await execa('docker', ['exec', `${CLUSTER}-${node}`, ...argv], { reject: false, timeout: 60_000 });
  assert.is(res.exitCode, 0, `${node}: ${argv.join(' ')}: ${res.stderr}`);
  return String(res.stdout);
}

/** When each unit last stopped and became active again, in µs of the (shared) monotonic clock. */
type UnitTimes = { activeEnter: number; activeExit: number };
async function unitTimes(): Promise<Record<string, UnitTimes>> {
  const out: Record<string, UnitTimes> = {};
  for (const [node, units] of Object.entries(UNITS)) {
    const text = await inNode(node, 'systemctl', 'show', '--property=Id,ActiveEnterTimestampMonotonic,ActiveExitTimestampMonotonic', ...units.map((u) => `${u}.service`));
    for (const block of text.trim().split(/\n\n+/)) {
      const props = new Map(block.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
      out[`${node}:${props.get('Id')!.replace(/\.service$/, '')}`] = { activeEnter: Number(props.get('ActiveEnterTimestampMonotonic')), activeExit: Number(props.get('ActiveExitTimestampMonotonic')) };
    }
  }
  return out;
}
const restartedBetween = (before: Record<string, UnitTimes>, after: Record<string, UnitTimes>) => Object.keys(after).filter((u) => after[u]!.activeEnter !== before[u]!.activeEnter).sort();

/** Each chained unit restarted on worker-2 only after worker-1's was active again (and then healthy: the gate's line comes first in the run). */
function assertOneWorkerAtATime(run: Run, after: Record<string, UnitTimes>, units: string[]): void {
  for (const unit of units) {
    const [w1, w2] = [after[`worker-1:${unit}`]!, after[`worker-2:${unit}`]!];
    const gapMs = (w2.activeExit - w1.activeEnter) / 1000;
    process.stdout.write(`${unit}: worker-1 active again, ${gapMs.toFixed(0)} ms later worker-2's stop began (worker-2 active again ${((w2.activeEnter - w1.activeEnter) / 1000).toFixed(0)} ms after worker-1)\n`);
    assert.ok(w2.activeExit > w1.activeEnter, `${unit}: worker-2's restart began before worker-1's ended (${gapMs} ms)`);
    // Built (it waited) or up to date (healthy at its first look): --verbose prints either when it ends.
    const gateDone = [`✓ rollout:worker-1:${unit} (`, `  rollout:worker-1:${unit} up to date`].map((line) => run.output.indexOf(line)).filter((i) => i !== -1)[0] ?? -1;
    const next = run.output.indexOf(`▶ unit:worker-2:${unit}`);
    assert.ok(gateDone !== -1 && next > gateDone, `${unit}: the run did not start unit:worker-2:${unit} after rollout:worker-1:${unit}`);
  }
}

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');
const hostFile = (path: string) => readFileSync(join(root, path), 'utf8');
const serialOf = (pem: string, what: string) => describeCertificate(pem, what).serial;

/** The installed copies the test compares: cert and key of each, on the node that uses it. */
const INSTALLED: { id: string; node: string; cert: string; key: string }[] = [
  { id: 'kube-apiserver:controller-1', node: CP, cert: controlPlanePaths.apiserverCert, key: controlPlanePaths.apiserverKey },
  { id: 'etcd-server:controller-1', node: CP, cert: etcdPaths.serverCert, key: etcdPaths.serverKey },
  { id: 'kubelet-serving:worker-1', node: 'worker-1', cert: workerPaths.kubeletCert, key: workerPaths.kubeletKey },
  { id: 'kubelet-serving:worker-2', node: 'worker-2', cert: workerPaths.kubeletCert, key: workerPaths.kubeletKey },
];
type Installed = Record<string, { serial: string; keySha: string }>;
async function installed(): Promise<Installed> {
  const out: Installed = {};
  for (const i of INSTALLED) out[i.id] = { serial: serialOf(await inNode(i.node, 'cat', i.cert), `${i.node}:${i.cert}`), keySha: sha(await inNode(i.node, 'cat', i.key)) };
  return out;
}
/** sha256 of every leaf key on the host. */
const hostKeys = () => Object.fromEntries([...catalog.values()].filter((c) => c.signer).map((c) => [c.id, sha(hostFile(c.key))]));

/** Re-issues a certificate as if `daysAgo` days ago, from its CA, its key kept (lib/pki's issue with an earlier `now`). */
async function issuedDaysAgo(cert: CertSpec, daysAgo: number): Promise<void> {
  const signer = catalog.get(cert.signer!)!;
  const issued = await issueToFiles({
    root, request: cert.request, vars: cert.vars, signingConfig: SIGNING_CONFIG, profile: cert.profile, defaultKey: defaultKeySpec(config),
    cert: cert.cert, key: cert.key, signer: { cert: signer.cert, key: signer.key }, now: new Date(Date.now() - daysAgo * 86_400_000),
  });
  assert.ok(issued.keyReused, `${cert.id}: key kept`);
}

let nodePortUrl = '';
const builtUnits = (run: Run) => run.built.filter((t) => t.startsWith('unit:')).sort();

test.before(() => removeByLabelSync(LABEL));
test.after(async () => {
  const run = await cli('clean:nodes', '--yes');
  if (run.code === 0) exitCleanup.done();
});

test('a 1+2 cluster from nothing (the first start waits for no health: the gates are built at once), then a second run builds nothing', async () => {
  const run = await cli('cluster', `load:echo@worker-1`, `load:echo@worker-2`);
  assert.is(run.code, 0, run.output.slice(-3000));
  for (const unit of ['containerd', 'kubelet', 'kube-proxy']) assert.ok(run.built.includes(`rollout:worker-1:${unit}`), `rollout:worker-1:${unit} not built`);
  assert.match(run.output, /first start of kubelet on worker-1: nothing in service to keep/);
  const times = await unitTimes();
  for (const unit of ['containerd', 'kubelet', 'kube-proxy']) {
    process.stdout.write(`fresh cluster: ${unit} on worker-2 became active ${((times[`worker-2:${unit}`]!.activeEnter - times[`worker-1:${unit}`]!.activeEnter) / 1000).toFixed(0)} ms after worker-1's\n`);
  }
  process.stdout.write(`fresh cluster: cluster took ${(run.wallMs / 1000).toFixed(1)} s\n`);
  const again = await cli('cluster');
  assert.is(again.code, 0, again.output.slice(-2000));
  assert.equal(again.built, []);
  process.stdout.write(`no-op cluster: ${(again.wallMs / 1000).toFixed(2)} s\n`);
});

test('a 2-replica Deployment with a PDB behind a NodePort, one pod per worker, answering on worker-1', async () => {
  const applied = await kubectl(['apply', '-f', '-'], echoWorkload({ namespace: NS, app: APP }));
  assert.is(applied.code, 0, applied.out);
  const rollout = await kubectl(['-n', NS, 'rollout', 'status', `deployment/${APP}`, '--timeout=180s']);
  assert.is(rollout.code, 0, rollout.out);
  const port = (await kubectl(['-n', NS, 'get', 'service', APP, '-o', 'jsonpath={.spec.ports[0].nodePort}'])).out;
  nodePortUrl = `http://${WORKER_1_IP}:${port}/`;
  await until(`${nodePortUrl} answers`, 90_000, async () => (await get(nodePortUrl, 2000)) || undefined);
});

test('certs:renew --threshold 60 picks exactly the four certificates with 24 days left; its dry run writes nothing', async () => {
  for (const id of AGED) await issuedDaysAgo(catalog.get(id)!, 340);
  const check = await cli('certs:check');
  assert.is(check.code, 0, check.output.slice(-2000));
  const warned = [...check.output.matchAll(/warning: (\S+) expires in (\d+) days/g)].map((m) => `${m[1]} ${m[2]}`).sort();
  assert.equal(warned, AGED.map((id) => `${id} 24`).sort());
  const files = [...catalog.values()].map((c) => hostFile(c.cert));
  // The default threshold (30 days) picks the same four; --threshold 60 too, and nothing with a year left.
  const byDefault = await cli('certs:renew', '--dry-run');
  assert.equal([...byDefault.output.matchAll(/^would build certs:(\S+): expires in 24 days/gm)].map((m) => m[1]).sort(), [...AGED].sort());
  const dry = await cli('certs:renew', '--threshold', '60', '--dry-run');
  assert.is(dry.code, 0, dry.output.slice(-2000));
  const would = [...dry.output.matchAll(/^would build certs:(\S+): expires in 24 days \(\S+\), under the renewal threshold of 60 days$/gm)].map((m) => m[1]).sort();
  assert.equal(would, [...AGED].sort());
  assert.equal([...catalog.values()].map((c) => hostFile(c.cert)), files, 'a dry run changed a certificate');
});

test('certs:renew then cluster, under the request loop: exactly those files and the units that read them, one worker at a time; zero failed requests', async () => {
  const keysBefore = hostKeys();
  const onNodes = await installed();
  const before = await unitTimes();
  const loop = requestLoop(nodePortUrl);
  const renew = await cli('certs:renew', '--threshold', '60');
  const run = renew.code === 0 ? await cli('cluster') : renew;
  const counts = await loop.stop('certs:renew --threshold 60 + cluster');
  assert.is(renew.code, 0, renew.output.slice(-3000));
  assert.equal(renew.built.sort(), [...AGED.map((id) => `certs:${id}`), 'certs:renew:report', 'kubeconfig:kube-proxy'].sort());
  assert.is(run.code, 0, run.output.slice(-3000));
  const after = await unitTimes();
  const expected = ['controller-1:kube-apiserver', 'worker-1:kube-proxy', 'worker-1:kubelet', 'worker-2:kube-proxy', 'worker-2:kubelet'];
  assert.equal(builtUnits(run), expected.map((u) => `unit:${u}`).sort(), 'the units the run restarted');
  // systemd's view: those, and possibly the controller-manager and scheduler, which exit when they cannot
  // renew their leader lease while the only apiserver restarts, and which systemd starts again (Restart=on-failure).
  const restarted = restartedBetween(before, after);
  process.stdout.write(`restarted (systemd): ${restarted.join(' ')}\n`);
  for (const unit of expected) assert.ok(restarted.includes(unit), `${unit} was not restarted: ${restarted.join(' ')}`);
  assert.equal(restarted.filter((u) => !expected.includes(u) && !['controller-1:kube-controller-manager', 'controller-1:kube-scheduler'].includes(u)), [], 'other units restarted');
  const installs = run.built.filter((t) => t.startsWith('install:')).sort();
  // Each renewed certificate and its key: the key's install reads the certificate target's result, which a
  // renewal changes, so it runs again and writes the same bytes (the key hashes on the nodes are checked below).
  assert.equal(installs, [
    'install:controller-1:apiserver-cert',
    'install:controller-1:apiserver-key',
    'install:worker-1:kube-proxy-kubeconfig',
    'install:worker-1:kubelet-serving-cert',
    'install:worker-1:kubelet-serving-key',
    'install:worker-2:kube-proxy-kubeconfig',
    'install:worker-2:kubelet-serving-cert',
    'install:worker-2:kubelet-serving-key',
  ]);
  assertOneWorkerAtATime(run, after, ['kubelet', 'kube-proxy']);
  const now = await installed();
  for (const id of ['kube-apiserver:controller-1', 'kubelet-serving:worker-1', 'kubelet-serving:worker-2']) assert.is.not(now[id]!.serial, onNodes[id]!.serial, `${id}: serial on the node unchanged`);
  assert.is(now['etcd-server:controller-1']!.serial, onNodes['etcd-server:controller-1']!.serial, 'etcd-server was not renewed');
  for (const id of Object.keys(now)) assert.is(now[id]!.keySha, onNodes[id]!.keySha, `${id}: key on the node changed`);
  assert.equal(hostKeys(), keysBefore, 'a key changed on the host');
  assert.is(counts.failures, 0, `${counts.failures} of ${counts.requests} requests failed`);
});

test('certs --force then cluster (every leaf, keys kept), under the request loop: every unit that reads a certificate restarts, one worker at a time; zero failed requests', async () => {
  const keysBefore = hostKeys();
  const onNodes = await installed();
  const before = await unitTimes();
  const loop = requestLoop(nodePortUrl);
  const certs = await cli('certs', '--force');
  const run = certs.code === 0 ? await cli('cluster') : certs;
  const counts = await loop.stop('certs --force + cluster');
  assert.is(certs.code, 0, certs.output.slice(-3000));
  assert.is(run.code, 0, run.output.slice(-3000));
  const after = await unitTimes();
  const expected = [
    'controller-1:etcd', 'controller-1:kube-apiserver', 'controller-1:kube-controller-manager', 'controller-1:kube-scheduler',
    'worker-1:kube-proxy', 'worker-1:kubelet', 'worker-2:kube-proxy', 'worker-2:kubelet',
  ];
  assert.equal(restartedBetween(before, after), expected, 'the units systemd restarted');
  assert.equal(builtUnits(run), expected.map((u) => `unit:${u}`).sort(), 'the units the run restarted');
  assertOneWorkerAtATime(run, after, ['kubelet', 'kube-proxy']);
  const now = await installed();
  for (const id of Object.keys(now)) {
    assert.is.not(now[id]!.serial, onNodes[id]!.serial, `${id}: serial on the node unchanged`);
    assert.is(now[id]!.keySha, onNodes[id]!.keySha, `${id}: key on the node changed`);
  }
  assert.equal(hostKeys(), keysBefore, 'a key changed on the host');
  assert.is(counts.failures, 0, `${counts.failures} of ${counts.requests} requests failed`);
});

test('the day-two chapter\'s renewal commands are the ones this test ran', () => {
  const chapter = readFileSync(join(root, 'docs/day-two.md'), 'utf8');
  const section = chapter.slice(chapter.indexOf('## Renew certificates'), chapter.indexOf('\n## ', chapter.indexOf('## Renew certificates') + 1));
  const commands = [...section.matchAll(/^npx tsx tasks\.ts (.+?)(?:\s+#.*)?$/gm)].map((m) => m[1]!.trim());
  assert.equal(commands, ['certs:renew --dry-run', 'certs:renew --threshold 60', 'cluster']);
  assert.match(section, /`certs --force` followed by `cluster`/);
});

test('afterwards: certs:check is clean (no problem, no warning) and a second cluster builds nothing', async () => {
  const check = await cli('certs:check');
  assert.is(check.code, 0, check.output.slice(-2000));
  assert.not.match(check.output, /warning:/);
  const again = await cli('cluster');
  assert.is(again.code, 0, again.output.slice(-2000));
  assert.equal(again.built, []);
});

test.run();
