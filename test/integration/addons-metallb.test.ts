// MetalLB through the real CLI, on its own cluster (harder-t-lb, 10.253.0.0/24, host port 7253) in a scratch
// project root: `cluster` with MetalLB on builds its images from the Go module and applies it; Docker's IPAM
// holds the pool back; a LoadBalancer Service gets the pool's first address and answers from the host there
// (ARP answered by a worker's speaker), a second gets the next, deleting one frees its address for the next
// Service; the MetalLB chapter's marked commands work;
// switching MetalLB off removes exactly what it applied (the Services and the rest of the cluster stay);
// every second run builds nothing. cluster:smoke (its LoadBalancer check included) runs first.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { repo, scratchProjectRoot } from '../lib/scratch-root.ts';
import { until } from '../lib/until.ts';
import { cleanUpOnExit } from '../lib/docker-cleanup.ts';
import { ADDON_LABEL } from '../../tasks/addons/objects.ts';

const CLUSTER = 'harder-t-lb';
const PREFIX = '10.253.0.';
const POOL = Array.from({ length: 15 }, (_, i) => `${PREFIX}${240 + i}`);
const HOST_PORT = 7253;
const WORKERS = ['worker-1', 'worker-2'];

const root = scratchProjectRoot('harder-t-lb-');
const configFile = join(root, 'lb-config.json');
const kubeconfig = join(root, 'output/kubeconfig/admin.kubeconfig');
const setMetallb = (enabled: boolean) =>
  writeFileSync(configFile, JSON.stringify({ clusterName: CLUSTER, nodeSubnet: `${PREFIX}0/24`, apiHostPort: HOST_PORT, mergeKubeconfig: false, binarySource: 'go', addons: { metallb: { enabled } } }, null, 2));
setMetallb(true);
const exitCleanup = cleanUpOnExit(`label=harder.cluster=${CLUSTER}`, [root]);

type Run = { code: number; output: string; built: string[]; seconds: Record<string, number>; wallMs: number };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '-j', '4'], { cwd: root, reject: false, all: true, timeout: 40 * 60_000 });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  const seconds = Object.fromEntries([...output.matchAll(/^✓ (\S+) \(([\d.]+) ?(m?s)\)/gm)].map((m) => [m[1]!, Number(m[2]) / (m[3] === 'ms' ? 1000 : 1)]));
  const wallMs = performance.now() - started;
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${(wallMs / 1000).toFixed(1)} s, built ${built.length}: ${built.join(' ')}\n${output.split('\n').filter((l) => /PASS|FAIL|✗|warning|built, /.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built, seconds, wallMs };
}

function kubectlPath(): string {
  const cache = process.env.HARDER_CACHE ?? join(process.env.HOME ?? '/root', '.cache/harder');
  const built = join(cache, 'bin/v1.34.4/go/kubectl');
  return existsSync(built) ? built : 'kubectl';
}

async function kubectl(...args: string[]): Promise<{ code: number; out: string }> {
  const res = await execa(kubectlPath(), ['--kubeconfig', kubeconfig, ...args], { reject: false, timeout: 60_000, all: true });
  return { code: res.exitCode ?? -1, out: String(res.all ?? '') };
}

function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end();
  });
}

const NS = 'lb-test';
const service = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: NS },
  spec: { type: 'LoadBalancer', selector: { app: 'lb-echo' }, ports: [{ port: 80, targetPort: 8080 }] },
});

async function apply(objects: unknown[]): Promise<void> {
  const res = await execa(kubectlPath(), ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }), reject: false, all: true });
  assert.is(res.exitCode, 0, String(res.all));
}

/** The Service's LoadBalancer address, once MetalLB gave it one. */
const addressOf = (name: string) =>
  until(`${name} gets an address`, 60_000, async () => (await kubectl('-n', NS, 'get', 'service', name, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).out.trim() || undefined);

/** GET from the host until it answers 200 with a pod's name; how long that took. */
async function answersFromHost(ip: string): Promise<{ body: string; ms: number }> {
  const started = performance.now();
  const res = await until(`http://${ip}/ answers from the host`, 60_000, async () => {
    const r = await httpGet(`http://${ip}/`);
    return r.status === 200 ? r : undefined;
  });
  return { body: res.body, ms: Math.round(performance.now() - started) };
}

/** Which worker answered ARP for the address: the host's neighbour entry's MAC against the workers' MACs on the network. */
async function announcer(ip: string): Promise<string> {
  const neigh = (await execa('ip', ['neigh', 'show', ip], { reject: false })).stdout.trim();
  const mac = /lladdr (\S+)/.exec(neigh)?.[1] ?? '';
  for (const worker of WORKERS) {
    const own = (await execa('docker', ['inspect', '-f', `{{(index .NetworkSettings.Networks "${CLUSTER}").MacAddress}}`, `${CLUSTER}-${worker}`], { reject: false })).stdout.trim();
    if (own && own === mac) return `${worker} (${mac})`;
  }
  return `no worker (neighbour entry: ${neigh || 'none'})`;
}

const metallbObjects = async (): Promise<string> =>
  (await kubectl('get', 'namespaces,customresourcedefinitions,clusterroles,clusterrolebindings,serviceaccounts,roles,rolebindings,configmaps,deployments,daemonsets', '-A', '-l', `${ADDON_LABEL}=metallb`, '-o', 'name')).out.trim();

test('cluster with MetalLB on: its images built from the Go module, loaded into each worker, MetalLB applied', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-4000));
  for (const name of ['bin:metallb', 'image:metallb-controller', 'image:metallb-speaker', 'load:metallb-speaker@worker-1', 'load:metallb-controller@worker-2', 'addon:metallb']) {
    assert.ok(run.built.includes(name), `${name} not built: ${run.built.join(' ')}`);
  }
  const cost = ['bin:metallb', 'image:metallb-controller', 'image:metallb-speaker', 'addon:metallb'].map((n) => `${n} ${run.seconds[n]?.toFixed(1) ?? '?'} s`);
  process.stdout.write(`MetalLB build cost (this run): ${cost.join(', ')}; whole cluster ${(run.wallMs / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${(await kubectl('-n', 'metallb-system', 'get', 'pods', '-o', 'wide')).out}\n`);
});

test('a second cluster run builds nothing', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built, [], `rebuilt: ${run.built.join(' ')}`);
  process.stdout.write(`no-op run: ${(run.wallMs / 1000).toFixed(1)} s\n`);
});

test('Docker\'s IPAM holds the pool back: every pool address is reserved, and a container asking for one is refused', async () => {
  const inspect = await execa('docker', ['network', 'inspect', CLUSTER, '-f', '{{json .IPAM.Config}}']);
  const config = JSON.parse(inspect.stdout) as { AuxiliaryAddresses?: Record<string, string> }[];
  const reserved = new Set(config.flatMap((c) => Object.values(c.AuxiliaryAddresses ?? {})));
  assert.equal(POOL.filter((ip) => !reserved.has(ip)), [], `not reserved: ${inspect.stdout}`);
  // Any local image does: the one the worker node runs (the cluster's own images live in its containerd, not in Docker).
  const image = (await execa('docker', ['inspect', '-f', '{{.Image}}', `${CLUSTER}-worker-1`])).stdout.trim();
  const res = await execa('docker', ['run', '--rm', '--network', CLUSTER, '--ip', POOL[0]!, image, 'true'], { reject: false, all: true, timeout: 60_000 });
  const said = String(res.all).trim().split('\n')[0]!;
  process.stdout.write(`docker run --ip ${POOL[0]} on ${CLUSTER} → exit ${res.exitCode}: ${said}\n`);
  assert.is.not(res.exitCode, 0, 'Docker handed out a pool address');
  assert.match(said, /Address already in use/);
});

// cluster:smoke also loads the test image (harder.local/echo:1) the Services below select.
test('cluster:smoke passes, its LoadBalancer check included', async () => {
  const run = await cli('cluster:smoke');
  assert.is(run.code, 0, run.output.slice(-4000));
  assert.match(run.output, /PASS LoadBalancer from the host: smoke-echo-lb → 10\.253\.0\.24\d \(in the pool 10\.253\.0\.240-10\.253\.0\.254\)/);
});

test('a LoadBalancer Service gets the pool\'s first address and answers from the host; a second gets the next', async () => {
  await apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'lb-echo', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'lb-echo' } },
        template: { metadata: { labels: { app: 'lb-echo' } }, spec: { containers: [{ name: 'echo', image: 'harder.local/echo:1', imagePullPolicy: 'Never', ports: [{ containerPort: 8080 }] }] } },
      },
    },
    service('lb-a'),
  ]);
  const rollout = await kubectl('-n', NS, 'rollout', 'status', 'deployment/lb-echo', '--timeout=120s');
  assert.is(rollout.code, 0, rollout.out);
  const pods = (await kubectl('-n', NS, 'get', 'pods', '-l', 'app=lb-echo', '-o', 'jsonpath={.items[*].metadata.name}')).out.split(/\s+/);
  const a = await addressOf('lb-a');
  assert.is(a, POOL[0], 'the first Service gets the pool\'s first address');
  const answer = await answersFromHost(a);
  process.stdout.write(`lb-a → ${a}: GET from the host answered "${answer.body}" after ${answer.ms} ms; ARP answered by ${await announcer(a)}\n`);
  assert.ok(pods.includes(answer.body), `answered ${answer.body}, pods ${pods.join(' ')}`);
  await apply([service('lb-b')]);
  const b = await addressOf('lb-b');
  assert.is(b, POOL[1], 'the second Service gets the next address');
  const second = await answersFromHost(b);
  process.stdout.write(`lb-b → ${b}: answered "${second.body}" after ${second.ms} ms; ARP answered by ${await announcer(b)}\n`);
  process.stdout.write(`${(await kubectl('-n', NS, 'get', 'services', '-o', 'wide')).out}\n`);
});

test('deleting a Service frees its address: the next Service gets it again, and it no longer answers meanwhile', async () => {
  const del = await kubectl('-n', NS, 'delete', 'service', 'lb-a', '--wait=true');
  assert.is(del.code, 0, del.out);
  // kube-proxy drops the address's rules and the speaker stops answering for it.
  const gone = await until(`${POOL[0]} stops answering`, 60_000, async () => ((await httpGet(`http://${POOL[0]}/`, 1500)).status === 200 ? undefined : true));
  assert.ok(gone);
  await apply([service('lb-c')]);
  const c = await addressOf('lb-c');
  assert.is(c, POOL[0], 'the freed address is handed out again');
  const answer = await answersFromHost(c);
  process.stdout.write(`lb-a deleted; lb-c → ${c}: answered "${answer.body}" after ${answer.ms} ms\n`);
});

test('the MetalLB chapter\'s marked commands work against this cluster', async () => {
  const docs = await import('../lib/doc-commands.ts');
  const report = await docs.runDocCommands({
    clusterName: CLUSTER,
    kubeconfig,
    outDir: join(root, 'output'),
    cwd: root,
    docsDir: join(repo, 'docs'),
    pathPrepend: [dirname(kubectlPath())],
    replacements: [['10.240.0.', PREFIX], ['127.0.0.1:6443', `127.0.0.1:${HOST_PORT}`], ['network inspect harder ', `network inspect ${CLUSTER} `]],
    filter: docs.onTestCluster('metallb'),
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  assert.ok(report.outcomes.length >= 2, `only ${report.outcomes.length} marked commands in docs/metallb.md`);
  assert.ok(report.ok, docs.formatFailures(report));
});

test('switching MetalLB off removes exactly what it applied: the Services, the workload and the cluster\'s own objects stay', async () => {
  const before = (await metallbObjects()).split('\n').filter(Boolean);
  process.stdout.write(`labelled ${ADDON_LABEL}=metallb before: ${before.length} objects\n`);
  assert.ok(before.length >= 10, before.join(' '));
  setMetallb(false);
  const explain = await cli('cluster', '--explain', '--dry-run');
  assert.is(explain.code, 0, explain.output.slice(-2000));
  const line = explain.output.split('\n').find((l) => l.includes('addon:metallb:remove'));
  process.stdout.write(`--explain: ${line}\n`);
  assert.ok(line, explain.output.slice(-2000));
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built, ['addon:metallb:remove'], `built: ${run.built.join(' ')}`);
  assert.is(await metallbObjects(), '', 'objects labelled for MetalLB remain');
  for (const crd of ['ipaddresspools.metallb.io', 'l2advertisements.metallb.io']) assert.is.not((await kubectl('get', 'crd', crd)).code, 0, `${crd} remains`);
  assert.is.not((await kubectl('get', 'namespace', 'metallb-system')).code, 0);
  // Only MetalLB's: the user's Services and Deployment, CoreDNS and the apiserver's RBAC are untouched.
  for (const kept of [['-n', NS, 'get', 'service', 'lb-b'], ['-n', NS, 'get', 'deployment', 'lb-echo'], ['-n', 'kube-system', 'get', 'deployment', 'coredns'], ['get', 'clusterrolebinding', 'system:kube-apiserver-to-kubelet']]) {
    assert.is((await kubectl(...kept)).code, 0, `${kept.join(' ')} is gone`);
  }
  const again = await cli('cluster');
  assert.is(again.code, 0, again.output.slice(-3000));
  assert.equal(again.built, [], `a second run with MetalLB off rebuilt: ${again.built.join(' ')}`);
});

test.after(async () => {
  const res = await cli('clean:nodes', '--yes');
  if (res.code === 0) exitCleanup.done();
});

test.run();
