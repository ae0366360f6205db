// End to end, through the real CLI: a cluster from nothing, the smoke tests, a slice of the upstream
// conformance suite (tasks/conformance), a no-op rerun, a one-flag
// change that restarts one kubelet, `docker restart` of every node, a worker removed and recreated, the
// tutorial's marked commands, and `clean:nodes`. Uses its own cluster (harder-e2e, 10.243.0.0/24) in a
// scratch project root, so the default cluster and its output/ are never touched. Every run has
// KUBECONFIG pointing at a scratch kubeconfig holding another context: `cluster` merges harder-harder-e2e
// into it (plain `kubectl get nodes` then works), and `clean:nodes` takes exactly that out again.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repo, scratchProjectRoot } from '../lib/scratch-root.ts';
import { parseYaml } from '../lib/pyyaml.ts';
import { CONFORMANCE_SKIPS } from '../../tasks/conformance/skips.ts';
import { noAddons } from '../../tasks/addons/spec.ts';

const CLUSTER = 'harder-e2e';
const SUBNET_PREFIX = '10.243.0.';
/** Its own host port for the API endpoint, so it runs beside the default cluster (which has 6443). */
const HOST_PORT = 7243;
// addons: no add-on (they have their own tests, test/integration/addons-*.test.ts): CI builds none of their images here.
const baseConfig = { clusterName: CLUSTER, nodeSubnet: '10.243.0.0/24', binarySource: 'go', apiHostPort: HOST_PORT, addons: noAddons() };

const root = scratchProjectRoot('harder-e2e-');
const configFile = join(root, 'e2e-config.json');
const kubeconfig = join(root, 'output/kubeconfig/admin.kubeconfig');
const setConfig = (extra: Record<string, unknown> = {}) => writeFileSync(configFile, JSON.stringify({ ...baseConfig, ...extra }, null, 2));
setConfig();

// The user's own kubeconfig: another cluster and context (current), as Debian's kubectl writes them.
const userKubeconfig = join(root, 'home/.kube/config');
const CONTEXT = `harder-${CLUSTER}`;
const env = { KUBECONFIG: userKubeconfig };
const debianKubectl = (...args: string[]) => execa('kubectl', args, { env, reject: false, timeout: 30_000 });
mkdirSync(dirname(userKubeconfig), { recursive: true, mode: 0o700 });
for (const args of [
  ['set-cluster', 'other', '--server', 'https://other.example:6443', '--insecure-skip-tls-verify=true'],
  ['set-credentials', 'other-admin', '--token', 'other-token'],
  ['set-context', 'other', '--cluster', 'other', '--user', 'other-admin'],
  ['use-context', 'other'],
]) {
  const res = await debianKubectl('config', ...args);
  if (res.exitCode !== 0) throw new Error(`kubectl config ${args.join(' ')}: ${res.stderr} (Debian: apt-get install kubernetes-client)`);
}
const userKubeconfigBefore = readFileSync(userKubeconfig, 'utf8');

type Run = { code: number; output: string; built: string[]; wallMs: number };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  // The CLI's own flags go before a `--`: what follows it is a command's pass-through (conformance -- --focus=…).
  const own = ['--config', configFile, '--plain', '-j', '6'];
  const split = args.indexOf('--');
  const argv = split === -1 ? [...args, ...own] : [...args.slice(0, split), ...own, ...args.slice(split)];
  const res = await execa('npx', ['tsx', 'tasks.ts', ...argv], { cwd: root, env, reject: false, all: true, timeout: 30 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode}, built ${built.length}: ${built.join(' ')}\n${output.split('\n').filter((l) => /PASS|FAIL|✗|built, /.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built, wallMs: performance.now() - started };
}

function kubectlPath(): string {
  const cache = process.env.HARDER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/harder');
  const built = join(cache, 'bin/v1.34.4/go/kubectl');
  return existsSync(built) ? built : 'kubectl';
}

async function kubectl(...args: string[]): Promise<string> {
  const res = await execa(kubectlPath(), ['--kubeconfig', kubeconfig, ...args], { reject: false, timeout: 30_000 });
  return res.exitCode === 0 ? String(res.stdout) : '';
}

type NodeList = {
  items: { metadata: { name: string }; status: { conditions: { type: string; status: string; lastHeartbeatTime: string }[]; capacity: Record<string, string> } }[];
};

async function nodes(): Promise<NodeList['items']> {
  const text = await kubectl('get', 'nodes', '-o', 'json');
  return text ? (JSON.parse(text) as NodeList).items : [];
}

const isReady = (n: NodeList['items'][number]) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');

/** Polls until every expected node is Ready (and `extra` holds); returns how long it took. */
async function waitAllReady(expected: string[], timeoutMs: number, extra: (items: NodeList['items']) => boolean = () => true): Promise<number> {
  const started = performance.now();
  let seen = '';
  while (performance.now() - started < timeoutMs) {
    const items = await nodes();
    seen = items.map((n) => `${n.metadata.name}=${isReady(n) ? 'Ready' : 'NotReady'}`).join(' ');
    if (expected.every((name) => items.some((n) => n.metadata.name === name && isReady(n))) && extra(items)) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`nodes not Ready after ${timeoutMs / 1000} s: ${seen}`);
}

const WORKERS = ['worker-1', 'worker-2'];
const CONTAINERS = ['controller-1', ...WORKERS].map((n) => `${CLUSTER}-${n}`);

test('cluster from nothing: every node Ready', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  await waitAllReady(WORKERS, 60_000);
  const wide = await kubectl('get', 'nodes', '-o', 'wide');
  process.stdout.write(`${wide}\n`);
  for (const w of WORKERS) assert.match(wide, new RegExp(`${w}\\s+Ready`));
  assert.match(wide, new RegExp(SUBNET_PREFIX.replace(/\./g, '\\.')));
  assert.match(run.output, new RegExp(`\\nkubectl: context ${CONTEXT} is current in ${userKubeconfig}: kubectl get nodes works now`));
});

test('kubectl just works: plain `kubectl get nodes` with the merged context, the other context intact, the passthrough', async () => {
  // No --kubeconfig, no --context: the built kubectl and Debian's both find the cluster through KUBECONFIG's file.
  for (const kubectlBinary of [kubectlPath(), 'kubectl']) {
    const res = await execa(kubectlBinary, ['get', 'nodes', '-o', 'name'], { env, reject: false, timeout: 30_000 });
    assert.is(res.exitCode, 0, `${kubectlBinary}: ${res.stderr}`);
    assert.equal(String(res.stdout).trim().split('\n').sort(), WORKERS.map((w) => `node/${w}`), kubectlBinary);
  }
  assert.is(String((await debianKubectl('config', 'current-context')).stdout).trim(), CONTEXT);
  assert.equal(String((await debianKubectl('config', 'get-contexts', '-o', 'name')).stdout).trim().split('\n').sort(), [CONTEXT, 'other']);
  assert.is(String((await debianKubectl('config', 'view', '--raw', '-o', 'jsonpath={.users[?(@.name=="other-admin")].user.token}')).stdout), 'other-token');
  assert.is(statSync(userKubeconfig).mode & 0o777, 0o600);
  // The merged cluster's server is the admin kubeconfig's.
  const admin = String((await execa('kubectl', ['--kubeconfig', kubeconfig, 'config', 'view', '-o', 'jsonpath={.clusters[0].cluster.server}'])).stdout);
  assert.is(String((await debianKubectl('config', 'view', '-o', `jsonpath={.clusters[?(@.name=="${CONTEXT}")].cluster.server}`)).stdout), admin);
  // The passthrough: every argument is kubectl's (-o is not a CLI flag), stdout and exit code are kubectl's.
  const tasks = (...args: string[]) => execa('npx', ['tsx', 'tasks.ts', '--config', configFile, 'kubectl', ...args], { cwd: root, env: { KUBECONFIG: '/nonexistent' }, reject: false, timeout: 60_000 });
  const pass = await tasks('get', 'nodes', '-o', 'name');
  assert.is(pass.exitCode, 0, String(pass.stderr));
  assert.equal(String(pass.stdout).trim().split('\n').sort(), WORKERS.map((w) => `node/${w}`));
  const fail = await tasks('get', 'nosuchkind');
  assert.is(fail.exitCode, 1);
  assert.match(String(fail.stderr), /nosuchkind/);
});

test('cluster:smoke passes every check', async () => {
  const run = await cli('cluster:smoke');
  assert.is(run.code, 0, run.output.slice(-3000));
  const passes = run.output.match(/cluster:smoke: PASS /g) ?? [];
  assert.ok(passes.length >= 11, `only ${passes.length} PASS lines`);
  assert.not.match(run.output, /cluster:smoke: FAIL /);
});

// The CI slice of the upstream conformance suite: every [Conformance] test of these groups (webhooks,
// CRD conversion and the aggregator, which need the apiserver to reach pods; DNS; Services and hostPort;
// kubectl). Expected: exactly the tests of conformance.yaml whose name matches, none failed.
const SLICE = String.raw`\[sig-api-machinery\] (AdmissionWebhook|CustomResourceConversionWebhook|Aggregator) |\[sig-network\] (DNS|Services|HostPort) |\[sig-cli\] Kubectl client `;

test('conformance slice: the upstream webhook, aggregator, DNS, Service, hostPort and kubectl [Conformance] tests all pass', async () => {
  const run = await cli('conformance', '--', `--focus=${SLICE}`);
  const summary = /^.*conformance: (\d+) passed, (\d+) failed, (\d+) skipped in (.*)$/m.exec(run.output);
  process.stdout.write(`${run.output.split('\n').filter((l) => /conformance: |FAIL |^\s{4}|report: /.test(l)).join('\n')}\n`);
  assert.ok(summary, `no summary line in:\n${run.output.slice(-3000)}`);
  // The names come from the suite's own list (the module's test/conformance/testdata/conformance.yaml).
  const cache = process.env.HARDER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/harder');
  const listFile = join(cache, 'go/mod/k8s.io/kubernetes@v1.34.4/test/conformance/testdata/conformance.yaml');
  const [list] = parseYaml(readFileSync(listFile, 'utf8')) as [{ codename: string }[]];
  const focus = new RegExp(SLICE);
  const expected = list.filter((t) => focus.test(t.codename) && !CONFORMANCE_SKIPS.some((s) => t.codename.includes(s.test)));
  assert.ok(expected.length >= 60, `only ${expected.length} tests match the slice`);
  assert.is(run.code, 0, run.output.slice(-4000));
  assert.is(Number(summary![2]), 0);
  assert.is(Number(summary![1]), expected.length, `${summary![1]} passed, conformance.yaml names ${expected.length} tests in the slice`);
  const dir = /report: (\S+)/.exec(run.output)?.[1];
  assert.ok(dir && existsSync(join(root, dir, 'junit-parallel.xml')) && existsSync(join(root, dir, 'summary.json')), `no reports in ${dir}`);
});

test('a second cluster run builds nothing', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-2000));
  assert.equal(run.built, []);
  assert.match(run.output, /0 built/);
});

test('one kubelet field for one worker: only that worker\'s kubelet config and unit run; node Ready with it', async () => {
  setConfig({ kubeletOverrides: { 'worker-2': { maxPods: 50 } } });
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-2000));
  assert.ok(run.built.includes('install:worker-2:kubelet-config'), run.built.join(' '));
  assert.ok(run.built.includes('unit:worker-2:kubelet'), run.built.join(' '));
  const allowed = new Set(['install:worker-2:kubelet-config', 'unit:worker-2:kubelet', 'ready:worker-2:node']);
  assert.equal(run.built.filter((t) => !allowed.has(t)), []);
  await waitAllReady(WORKERS, 90_000, (items) => items.find((n) => n.metadata.name === 'worker-2')?.status.capacity.pods === '50');
});

test('a kubelet that cannot start fails the run with its journal; fixing the config recovers it', async () => {
  setConfig({ kubeletOverrides: { 'worker-2': { maxPods: 'many' } } });
  const broken = await cli('cluster');
  assert.is.not(broken.code, 0);
  assert.match(broken.output, /worker-2: kubelet\.service is .*last journal lines/);
  assert.match(broken.output, /kubelet\[\d+\]/, 'journal lines of kubelet are quoted');
  setConfig({ kubeletOverrides: { 'worker-2': { maxPods: 50 } } });
  const fixed = await cli('cluster');
  assert.is(fixed.code, 0, fixed.output.slice(-2000));
  assert.ok(fixed.built.includes('unit:worker-2:kubelet'), fixed.built.join(' '));
  await waitAllReady(WORKERS, 90_000);
});

test('docker restart of every node: all Ready again without running anything', async () => {
  const restartedAt = Date.now();
  const res = await execa('docker', ['restart', ...CONTAINERS], { reject: false, timeout: 180_000 });
  assert.is(res.exitCode, 0, String(res.stderr));
  // A Node stays Ready in the API for a while after its kubelet stops: count it only once its kubelet,
  // started again by systemd, has posted a fresh status.
  const fresh = (items: NodeList['items']) =>
    WORKERS.every((w) => {
      const ready = items.find((n) => n.metadata.name === w)?.status.conditions.find((c) => c.type === 'Ready');
      return ready !== undefined && Date.parse(ready.lastHeartbeatTime) >= restartedAt - 1000;
    });
  const ms = await waitAllReady(WORKERS, 240_000, fresh);
  process.stdout.write(`all nodes Ready ${Math.round(ms / 1000)} s after docker restart\n`);
  const pods = await kubectl('-n', 'kube-system', 'get', 'pods', '-o', 'wide');
  process.stdout.write(`${pods}\n`);
});

test('cluster 3 s after another docker restart of every node rebuilds no unit, node or install target', async () => {
  // While systemd is still bringing the units back, their probes must wait for it, not call them broken.
  const restartedAt = Date.now();
  const res = await execa('docker', ['restart', ...CONTAINERS], { reject: false, timeout: 180_000 });
  assert.is(res.exitCode, 0, String(res.stderr));
  await new Promise((r) => setTimeout(r, 3000));
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built.filter((t) => /^(unit|node|install):/.test(t)), [], `rebuilt: ${run.built.join(' ')}`);
  const fresh = (items: NodeList['items']) =>
    WORKERS.every((w) => {
      const ready = items.find((n) => n.metadata.name === w)?.status.conditions.find((c) => c.type === 'Ready');
      return ready !== undefined && Date.parse(ready.lastHeartbeatTime) >= restartedAt - 1000;
    });
  await waitAllReady(WORKERS, 240_000, fresh);
});

test('docker rm -f one worker: cluster recreates it alone and it rejoins Ready', async () => {
  const res = await execa('docker', ['rm', '-f', `${CLUSTER}-worker-1`], { reject: false });
  assert.is(res.exitCode, 0, String(res.stderr));
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.ok(run.built.includes('node:worker-1'), run.built.join(' '));
  const elsewhere = run.built.filter((t) => !t.includes('worker-1') && !t.startsWith('cluster:'));
  assert.equal(elsewhere, [], `targets outside worker-1 ran: ${elsewhere.join(' ')}`);
  await waitAllReady(WORKERS, 120_000);
});

test('the tutorial\'s marked commands work against this cluster', async () => {
  const lib = join(repo, 'test/lib/doc-commands.ts');
  if (!existsSync(lib)) throw new Error('test/lib/doc-commands.ts is missing');
  const docs = (await import(lib)) as typeof import('../lib/doc-commands.ts');
  const report = await docs.runDocCommands({
    clusterName: CLUSTER,
    kubeconfig,
    outDir: join(root, 'output'),
    cwd: root,
    docsDir: join(repo, 'docs'),
    pathPrepend: [dirname(kubectlPath())],
    replacements: [['10.240.0.', SUBNET_PREFIX], ['127.0.0.1:6443', `127.0.0.1:${HOST_PORT}`]],
    // The high-availability chapter's commands need three control planes (cluster-ha runs them), the add-ons'
    // chapters their add-ons (addons-ingress runs those).
    filter: docs.onTestCluster('e2e'),
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  assert.ok(report.ok, docs.formatFailures(report));
});

test('clean:nodes removes the containers and our context, only ours (a dry run removes nothing)', async () => {
  const merged = readFileSync(userKubeconfig, 'utf8');
  const dry = await cli('clean:nodes', '--yes', '--dry-run');
  assert.is(dry.code, 0, dry.output.slice(-2000));
  assert.is(readFileSync(userKubeconfig, 'utf8'), merged, 'a dry run leaves the kubeconfig alone');
  const run = await cli('clean:nodes', '--yes');
  assert.is(run.code, 0, run.output.slice(-2000));
  const ps = await execa('docker', ['ps', '-a', '--filter', `label=harder.cluster=${CLUSTER}`, '--format', '{{.Names}}']);
  assert.is(String(ps.stdout).trim(), '');
  assert.match(run.output, new RegExp(`removed cluster ${CONTEXT}, user ${CONTEXT}, context ${CONTEXT}, current-context from ${userKubeconfig}`));
  assert.equal(String((await debianKubectl('config', 'get-contexts', '-o', 'name')).stdout).trim().split('\n'), ['other']);
  // What kubectl wrote before the merge is back byte for byte, but for the current-context that was ours.
  assert.is(readFileSync(userKubeconfig, 'utf8'), userKubeconfigBefore.replace(/^current-context: other\n/m, ''));
});

test.after(async () => {
  // Whatever happened above, leave no containers behind (finally), then drop the scratch root.
  await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--config', configFile, '--plain'], { cwd: root, env, reject: false, timeout: 300_000 });
  rmSync(root, { recursive: true, force: true });
});

test.run();
