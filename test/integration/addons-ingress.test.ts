// The Ingress (Traefik) and metrics-server add-ons through the real CLI, on their own cluster (harder-t-ingress,
// 10.254.0.0/24, host port 7254, 1 control plane + 2 workers) in a scratch project root, MetalLB on as well so
// Traefik's Service is a LoadBalancer: `cluster` builds both images from their Go modules, loads them into
// every worker and applies them; a second run builds nothing. From the host, real curl reaches a demo
// Deployment through an Ingress rule for demo.<domain> at the LoadBalancer address, the certificate verified
// against the cluster CA (and refused without it); an unknown host gets Traefik's 404. `kubectl top nodes`
// lists every worker with figures and `kubectl top pods -A` the pods; certs:check lists the ingress default
// certificate; cluster:smoke runs its Ingress and metrics checks; the Ingress and Metrics chapters' marked
// commands hold here (cluster-e2e leaves them to this file); switching the Ingress off runs
// addon:ingress:remove alone, deleting what it applied and nothing of MetalLB's or metrics-server's, and the
// run after that builds nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repo, scratchProjectRoot } from '../lib/scratch-root.ts';
import { until } from '../lib/until.ts';
import { cleanUpOnExit, removeByLabelSync } from '../lib/docker-cleanup.ts';
import { ADDON_LABEL } from '../../tasks/addons/objects.ts';
import { TEST_IMAGE, TEST_IMAGE_PORT } from '../../tasks/images/cluster-images.ts';

const CLUSTER = 'harder-t-ingress';
const PREFIX = '10.254.0.';
// The IP plan's pool for a /24 with an empty addons.metallb.pool: the top 16 addresses but the broadcast one.
const POOL = Array.from({ length: 15 }, (_, i) => `${PREFIX}${240 + i}`);
const HOST_PORT = 7254;
const WORKERS = ['worker-1', 'worker-2'];
// The domain this spec gives the Ingress; its default certificate covers it and every name under it.
const DOMAIN = 'apps.harder-t-ingress.test';
const DEMO_HOST = `demo.${DOMAIN}`;
const UNKNOWN_HOST = `no-such-app.${DOMAIN}`;

const root = scratchProjectRoot('harder-t-ingress-');
const configFile = join(root, 'ingress-config.json');
const kubeconfig = join(root, 'output/kubeconfig/admin.kubeconfig');
const caFile = join(root, 'output/pki/ca.crt');
const setIngress = (enabled: boolean) =>
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        clusterName: CLUSTER,
        nodeSubnet: `${PREFIX}0/24`,
        apiHostPort: HOST_PORT,
        mergeKubeconfig: false,
        binarySource: 'go',
        addons: { metallb: { enabled: true }, ingress: { enabled, domain: DOMAIN }, 'metrics-server': { enabled: true } },
      },
      null,
      2,
    ),
  );
setIngress(true);
// Whatever an earlier, interrupted run of this file left behind.
removeByLabelSync(`label=harder.cluster=${CLUSTER}`);
const exitCleanup = cleanUpOnExit(`label=harder.cluster=${CLUSTER}`, [root]);

type Run = { code: number; output: string; built: string[]; seconds: Record<string, number>; wallMs: number };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--config', configFile, '--plain', '-j', '4'], { cwd: root, reject: false, all: true, timeout: 60 * 60_000 });
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

async function apply(objects: unknown[]): Promise<void> {
  const res = await execa(kubectlPath(), ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }), reject: false, all: true });
  assert.is(res.exitCode, 0, String(res.all));
}

type Curl = { code: number; stdout: string; stderr: string; httpCode: string };

/** Real curl from the host: `curl --resolve <host>:443:<ip> [--cacert ca] https://<host>/`, the status code on the last line. */
async function curl(host: string, ip: string, opts: { ca?: string; verbose?: boolean } = {}): Promise<Curl> {
  const args = ['-sS', '--max-time', '10', '--resolve', `${host}:443:${ip}`, ...(opts.ca ? ['--cacert', opts.ca] : []), ...(opts.verbose ? ['-v'] : []), '-w', '\n%{http_code}', `https://${host}/`];
  const res = await execa('curl', args, { reject: false, timeout: 30_000 });
  const lines = String(res.stdout).split('\n');
  const httpCode = lines.pop() ?? '';
  return { code: res.exitCode ?? -1, stdout: lines.join('\n').trim(), stderr: String(res.stderr), httpCode };
}

/** `kind/name` (or `kind.group/name`) of every object labelled for an add-on, sorted. */
async function labelledObjects(addon: string): Promise<string[]> {
  const kinds = 'namespaces,customresourcedefinitions,clusterroles,clusterrolebindings,serviceaccounts,roles,rolebindings,configmaps,secrets,deployments,daemonsets,services,ingressclasses,apiservices';
  const res = await kubectl('get', kinds, '-A', '-l', `${ADDON_LABEL}=${addon}`, '-o', 'name');
  assert.is(res.code, 0, res.out);
  return res.out.split('\n').map((l) => l.trim()).filter(Boolean).sort();
}

/** The `kubectl top nodes` lines of the workers that have figures (CPU in m, memory in Mi). */
const workersWithFigures = (out: string) => WORKERS.filter((w) => new RegExp(`^${w}\\s+\\d+m\\s+\\d+%\\s+\\d+Mi\\s+\\d+%`, 'm').test(out));

let lbIp = '';
const NS = 'ingress-test';

test('cluster with MetalLB, the Ingress and metrics-server on: images built from their Go modules, loaded into each worker, applied', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-5000));
  const expected = [
    'image:traefik',
    'image:metrics-server',
    ...WORKERS.flatMap((w) => [`load:traefik@${w}`, `load:metrics-server@${w}`]),
    'certs:ingress-default',
    'certs:metrics-server',
    'addon:metallb',
    'addon:ingress',
    'addon:metrics-server',
  ];
  for (const name of expected) assert.ok(run.built.includes(name), `${name} not built: ${run.built.join(' ')}`);
  const cost = ['image:traefik', 'image:metrics-server', 'image:metallb-controller', 'image:metallb-speaker', 'addon:metallb', 'addon:ingress', 'addon:metrics-server'].map(
    (n) => `${n} ${run.seconds[n]?.toFixed(1) ?? '?'} s`,
  );
  process.stdout.write(`add-on build cost (this run; an image's binary may come from the shared cache): ${cost.join(', ')}; whole cluster ${(run.wallMs / 1000).toFixed(1)} s\n`);
  const notes = run.output.split('\n').find((l) => l.includes('ingress: https://'));
  process.stdout.write(`${notes ?? '(no ingress note)'}\n`);
  assert.ok(notes?.includes(`https://*.${DOMAIN}`), `the run's ingress note: ${notes}`);
  const nodes = await kubectl('get', 'nodes', '-o', 'name');
  for (const w of WORKERS) assert.ok(nodes.out.split('\n').includes(`node/${w}`), nodes.out);
  process.stdout.write(`${(await kubectl('get', 'pods', '-A', '-o', 'wide')).out}\n`);
});

test('a second cluster run builds nothing', async () => {
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built, [], `rebuilt: ${run.built.join(' ')}`);
  process.stdout.write(`no-op run: ${(run.wallMs / 1000).toFixed(1)} s\n`);
});

test("Traefik's Service is a LoadBalancer with the pool's first address", async () => {
  const svc = JSON.parse((await kubectl('-n', 'traefik', 'get', 'service', 'traefik', '-o', 'json')).out) as { spec: { type: string }; status: { loadBalancer: { ingress?: { ip: string }[] } } };
  assert.is(svc.spec.type, 'LoadBalancer');
  lbIp = svc.status.loadBalancer.ingress?.[0]?.ip ?? '';
  process.stdout.write(`traefik/traefik → ${lbIp}\n`);
  // The first LoadBalancer Service of the cluster: MetalLB hands out the pool's lowest address.
  assert.is(lbIp, POOL[0]);
});

test('from the host, curl reaches a demo Deployment through an Ingress rule, the certificate verified against the cluster CA; an unknown host gets the 404', async () => {
  const load = await cli(...WORKERS.map((w) => `load:echo@${w}`));
  assert.is(load.code, 0, load.output.slice(-3000));
  const labels = { app: 'demo' };
  await apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'demo', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'echo', image: TEST_IMAGE, imagePullPolicy: 'Never', ports: [{ containerPort: TEST_IMAGE_PORT }] }] } },
      },
    },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'demo', namespace: NS }, spec: { selector: labels, ports: [{ port: 80, targetPort: TEST_IMAGE_PORT }] } },
    {
      // What a user writes: no class (Traefik's is the default), HTTPS by Traefik's two annotations, no tls section.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'demo', namespace: NS, annotations: { 'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure', 'traefik.ingress.kubernetes.io/router.tls': 'true' } },
      spec: { rules: [{ host: DEMO_HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'demo', port: { number: 80 } } } }] } }] },
    },
  ]);
  const rollout = await kubectl('-n', NS, 'rollout', 'status', 'deployment/demo', '--timeout=120s');
  assert.is(rollout.code, 0, rollout.out);
  const pods = (await kubectl('-n', NS, 'get', 'pods', '-l', 'app=demo', '-o', 'jsonpath={.items[*].metadata.name}')).out.split(/\s+/).filter(Boolean);
  assert.is(pods.length, 2, pods.join(' '));

  const started = performance.now();
  const demo = await until(`curl https://${DEMO_HOST}/ via ${lbIp} answers 200`, 60_000, async () => {
    const r = await curl(DEMO_HOST, lbIp, { ca: caFile, verbose: true });
    return r.code === 0 && r.httpCode === '200' ? r : undefined;
  }, 2000);
  const tls = demo.stderr.split('\n').filter((l) => /subject:|issuer:|subjectAltName|SSL certificate verify|expire date/.test(l)).map((l) => l.trim());
  process.stdout.write(`$ curl --resolve ${DEMO_HOST}:443:${lbIp} --cacert output/pki/ca.crt https://${DEMO_HOST}/   (answered after ${Math.round(performance.now() - started)} ms)\n${demo.stdout}\n  [HTTP ${demo.httpCode}; ${tls.join('; ')}]\n`);
  assert.ok(pods.includes(demo.stdout), `answered "${demo.stdout}", demo pods ${pods.join(' ')}`);
  assert.match(demo.stderr, /SSL certificate verify ok/);
  assert.match(demo.stderr, /subject: CN=ingress-default/);

  // Both demo pods serve: requests go round the Service's endpoints, once Traefik has both (the second pod
  // may have turned Ready only just now; in one CI run 20 requests in a row all reached the first).
  const seen = new Set<string>([demo.stdout]);
  await until('both demo pods answer through the Ingress', 60_000, async () => {
    seen.add((await curl(DEMO_HOST, lbIp, { ca: caFile })).stdout);
    return seen.size >= 2 || undefined;
  }, 200);
  process.stdout.write(`pods that answered: ${[...seen].join(', ')}\n`);
  assert.equal([...seen].sort(), [...pods].sort());

  // Without the cluster CA curl refuses the certificate (exit 60): the answer above was verified, not trusted blindly.
  const untrusted = await curl(DEMO_HOST, lbIp);
  process.stdout.write(`$ curl --resolve ${DEMO_HOST}:443:${lbIp} https://${DEMO_HOST}/   (no --cacert) → exit ${untrusted.code}: ${untrusted.stderr.trim()}\n`);
  assert.is(untrusted.code, 60, untrusted.stderr);

  const unknown = await curl(UNKNOWN_HOST, lbIp, { ca: caFile });
  process.stdout.write(`$ curl --resolve ${UNKNOWN_HOST}:443:${lbIp} --cacert output/pki/ca.crt https://${UNKNOWN_HOST}/\n${unknown.stdout}\n  [HTTP ${unknown.httpCode}, exit ${unknown.code}]\n`);
  assert.is(unknown.code, 0, unknown.stderr);
  assert.is(unknown.httpCode, '404');
  assert.is(unknown.stdout, '404 page not found');

  // Traefik wrote the Service's address into the Ingress's status.
  const status = await until('the demo Ingress shows the address', 30_000, async () => (await kubectl('-n', NS, 'get', 'ingress', 'demo', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}')).out.trim() || undefined);
  assert.is(status, lbIp);
});

test('kubectl top nodes lists every worker with CPU and memory figures; kubectl top pods -A lists the pods', async () => {
  const started = performance.now();
  const top = await until('kubectl top nodes has figures for every worker', 180_000, async () => {
    const r = await kubectl('top', 'nodes');
    return r.code === 0 && workersWithFigures(r.out).length === WORKERS.length ? r.out : undefined;
  }, 3000);
  process.stdout.write(`$ kubectl top nodes   (figures for every worker after ${Math.round((performance.now() - started) / 1000)} s)\n${top}\n`);
  assert.equal(workersWithFigures(top), WORKERS);
  const pods = await until('kubectl top pods -A has the demo pods and metrics-server', 120_000, async () => {
    const r = await kubectl('top', 'pods', '-A');
    return r.code === 0 && /^ingress-test\s+demo-\S+\s+\d+m\s+\d+Mi/m.test(r.out) && /^kube-system\s+metrics-server-\S+\s+\d+m\s+\d+Mi/m.test(r.out) ? r.out : undefined;
  }, 3000);
  process.stdout.write(`$ kubectl top pods -A\n${pods}\n`);
  for (const ns of ['kube-system', 'traefik', 'metallb-system', NS]) assert.match(pods, new RegExp(`^${ns}\\s+\\S+\\s+\\d+m\\s+\\d+Mi`, 'm'), `no pod of ${ns} with figures`);
});

test('certs:check lists the ingress default certificate for the domain and every name under it', async () => {
  const run = await cli('certs:check');
  assert.is(run.code, 0, run.output.slice(-3000));
  const header = run.output.split('\n').find((l) => /\bCERT\s+SUBJECT\s+SANS/.test(l));
  const row = run.output.split('\n').find((l) => /certs:check: ingress-default\s/.test(l));
  process.stdout.write(`${header}\n${row}\n`);
  assert.ok(row, run.output.slice(-3000));
  // Its SANs are the spec's domain and the wildcard under it, signed by the cluster CA, and nothing is wrong with it.
  assert.ok(row.includes(`${DOMAIN}, *.${DOMAIN}`) || row.includes(`*.${DOMAIN}, ${DOMAIN}`), row);
  assert.match(row, /CN=ingress-default/);
  assert.match(row, /\bok\s*$/);
});

test('cluster:smoke passes, its Ingress and metrics checks included', async () => {
  // The smoke workload's Ingress is for demo.<domain> too: ours goes first, so only one rule names the host.
  assert.is((await kubectl('-n', NS, 'delete', 'ingress', 'demo', '--wait=true')).code, 0);
  const run = await cli('cluster:smoke');
  assert.is(run.code, 0, run.output.slice(-5000));
  const d = DEMO_HOST.replace(/\./g, '\\.');
  assert.match(run.output, new RegExp(`PASS Ingress: https://${d}/ from the host, certificate verified against the cluster CA: GET https://${d}/ via ${lbIp.replace(/\./g, '\\.')}:443 → 200 "smoke-echo-`));
  assert.match(run.output, /PASS Ingress: an unknown host gets the controller's 404: .* → 404 "404 page not found"/);
  assert.match(run.output, /PASS kubectl top nodes lists every worker with numbers: /);
  assert.match(run.output, /PASS kubectl top pods -A answers: \d+ pods with figures/);
  assert.match(run.output, /PASS LoadBalancer from the host: /);
});

test("the Ingress and Metrics chapters' marked commands work against this cluster", async () => {
  const docs = await import('../lib/doc-commands.ts');
  const commands = docs.extractDocCommands(join(repo, 'docs')).filter(docs.onTestCluster('addons-ingress'));
  assert.equal([...new Set(commands.map((c) => c.chapter))].sort(), ['ingress', 'metrics']);
  const report = await docs.runDocCommands({
    clusterName: CLUSTER,
    kubeconfig,
    outDir: join(root, 'output'),
    cwd: root,
    commands,
    pathPrepend: [dirname(kubectlPath())],
    replacements: [['10.240.0.', PREFIX], ['127.0.0.1:6443', `127.0.0.1:${HOST_PORT}`], ['harder.test', DOMAIN]],
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  assert.ok(report.outcomes.length >= 10, `only ${report.outcomes.length} marked commands in docs/ingress.md and docs/metrics.md`);
  assert.ok(report.ok, docs.formatFailures(report));
});

test("switching the Ingress off removes exactly what it applied: MetalLB's, metrics-server's and the user's objects stay", async () => {
  const ingressBefore = await labelledObjects('ingress');
  const metallbBefore = await labelledObjects('metallb');
  const metricsBefore = await labelledObjects('metrics-server');
  process.stdout.write(`labelled before: ingress ${ingressBefore.length}, metallb ${metallbBefore.length}, metrics-server ${metricsBefore.length} objects\n`);
  for (const o of ['namespace/traefik', 'deployment.apps/traefik', 'service/traefik', 'ingressclass.networking.k8s.io/traefik', 'secret/traefik-default-cert']) {
    assert.ok(ingressBefore.includes(o), `${o} not among ${ingressBefore.join(' ')}`);
  }
  assert.ok(metallbBefore.length >= 10 && metricsBefore.length >= 8, `${metallbBefore.join(' ')} | ${metricsBefore.join(' ')}`);
  setIngress(false);
  const explain = await cli('cluster', '--explain', '--dry-run');
  assert.is(explain.code, 0, explain.output.slice(-2000));
  const line = explain.output.split('\n').find((l) => l.includes('addon:ingress:remove'));
  process.stdout.write(`--explain: ${line}\n`);
  assert.ok(line, explain.output.slice(-2000));
  const run = await cli('cluster');
  assert.is(run.code, 0, run.output.slice(-3000));
  assert.equal(run.built, ['addon:ingress:remove'], `built: ${run.built.join(' ')}`);
  assert.equal(await labelledObjects('ingress'), [], 'objects labelled for the Ingress remain');
  assert.is.not((await kubectl('get', 'namespace', 'traefik')).code, 0, 'namespace traefik remains');
  assert.is.not((await kubectl('get', 'ingressclass', 'traefik')).code, 0, 'IngressClass traefik remains');
  assert.equal(await labelledObjects('metallb'), metallbBefore, "MetalLB's objects changed");
  assert.equal(await labelledObjects('metrics-server'), metricsBefore, "metrics-server's objects changed");
  // Still working, not merely still there: the metrics API answers and the smoke workload keeps its Ingress.
  const top = await kubectl('top', 'nodes');
  assert.is(top.code, 0, top.out);
  assert.equal(workersWithFigures(top.out), WORKERS, top.out);
  const available = await kubectl('get', 'apiservice', 'v1beta1.metrics.k8s.io', '-o', "jsonpath={.status.conditions[?(@.type=='Available')].status}");
  assert.is(available.out.trim(), 'True');
  for (const kept of [['-n', 'harder-smoke', 'get', 'ingress'], ['-n', NS, 'get', 'deployment', 'demo'], ['-n', 'kube-system', 'get', 'deployment', 'coredns'], ['-n', 'metallb-system', 'get', 'daemonset', 'speaker']]) {
    const res = await kubectl(...kept);
    assert.is(res.code, 0, `${kept.join(' ')}: ${res.out}`);
  }
  const again = await cli('cluster');
  assert.is(again.code, 0, again.output.slice(-3000));
  assert.equal(again.built, [], `a second run with the Ingress off rebuilt: ${again.built.join(' ')}`);
});

test.after(async () => {
  const res = await cli('clean:nodes', '--yes');
  if (res.code === 0) exitCleanup.done();
  removeByLabelSync(`label=harder.cluster=${CLUSTER}`);
});

test.run();
