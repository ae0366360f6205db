// `cluster:smoke`: the Kubernetes the Hard Way smoke tests, automated against the running cluster.
// Every check prints PASS/FAIL with what it saw; the target fails if any check failed.

import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { controlPlanes, workers } from '../config/config.ts';
import { kubeconfigPath } from '../certs/kubeconfig.ts';
import { apiRequest, loadIdentity } from './api-client.ts';
import { binaryOf, nodeTarget, plannedNode, type BinaryDep, type ClusterContext, type EncryptionDep, type NodeDep } from './context.ts';
import { ClusterError } from './errors.ts';
import { etcdctlArgs } from './etcd.ts';
import { kubectlRunner, type Kubectl } from './kubectl.ts';
import { rootPath, sleep } from './node-targets.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { toYamlDocuments } from './render/yaml.ts';
import type { SmokeAddonCheck } from './smoke-checks.ts';
import { poolAddresses } from '../net/ip-plan.ts';

export type SmokeCheck = { name: string; ok: boolean; saw: string };

const NS = 'harder-smoke';
const APP = 'smoke-echo';

function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

function workloadManifests(image: string, port: number, replicas: number) {
  const labels = { app: APP };
  return toYamlDocuments([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: APP, namespace: NS, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            // One pod per worker where possible, so pod-to-pod traffic crosses nodes.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' } }],
              },
            },
            containers: [{ name: 'echo', image, imagePullPolicy: 'Never', ports: [{ containerPort: port }] }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: APP, namespace: NS },
      spec: { type: 'NodePort', selector: labels, ports: [{ port: 80, targetPort: port, protocol: 'TCP' }] },
    },
  ]);
}

/** A LoadBalancer Service in front of the smoke workload, port 80. */
function loadBalancerService(name: string, port: number) {
  return toYamlDocuments([
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { type: 'LoadBalancer', selector: { app: APP }, ports: [{ port: 80, targetPort: port, protocol: 'TCP' }] } },
  ]);
}

/** The address a LoadBalancer Service was given (status.loadBalancer.ingress), once it has one; undefined after `timeoutMs`. */
export async function loadBalancerIp(kubectl: Kubectl, namespace: string, service: string, timeoutMs: number, signal?: AbortSignal): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await kubectl(['-n', namespace, 'get', 'service', service, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'], { allowFailure: true });
    if (out.exitCode === 0 && out.stdout.trim()) return out.stdout.trim();
    if (Date.now() > deadline) return undefined;
    await sleep(1000, signal);
  }
}

type Pod = { name: string; node: string; ip: string };

async function pods(kubectl: Kubectl): Promise<Pod[]> {
  const out = await kubectl(['-n', NS, 'get', 'pods', '-l', `app=${APP}`, '--field-selector=status.phase=Running', '-o', 'json']);
  const list = JSON.parse(out.stdout) as { items: { metadata: { name: string; deletionTimestamp?: string }; spec: { nodeName: string }; status: { podIP?: string } }[] };
  return list.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => ({ name: p.metadata.name, node: p.spec.nodeName, ip: p.status.podIP ?? '' }));
}

/** `kubectl port-forward` to a free local port; resolves with the port and a function that stops it. */
function portForward(kubectlPath: string, kubeconfig: string, pod: string, port: number): Promise<{ local: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlPath, ['--kubeconfig', kubeconfig, '-n', NS, 'port-forward', `pod/${pod}`, `:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => (child.kill(), reject(new Error(`port-forward printed no port within 20 s: ${output.trim()}`))), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ local: Number(match[1]), stop: () => child.kill() });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`port-forward exited ${code}: ${output.trim()}`))));
  });
}

/** What the smoke test builds on, and reads: kubectl's path, the encryption provider and key name, every node's container. */
type SmokeDeps = {
  cluster: AnyTarget;
  kubectl: BinaryDep;
  encryption: EncryptionDep;
  /** The first control plane, where etcd is read. */
  cp: NodeDep;
  [node: `node:${string}`]: NodeDep;
  /** The test image in each worker's containerd (ordering only). */
  [load: `load:${string}`]: AnyTarget;
};

/** `addonChecks`: the checks of the add-ons that are on (tasks/addons), run after the built-in ones. */
export function smokeTarget(ctx: ClusterContext, deps: { cluster: AnyTarget; addonChecks?: readonly SmokeAddonCheck[] }) {
  const cp = controlPlanes(ctx.config)[0]!.name;
  const workerNodes = workers(ctx.config).map((n) => plannedNode(ctx, n.name));
  const smokeDeps: SmokeDeps = { cluster: deps.cluster, kubectl: binaryOf(ctx, 'kubectl'), encryption: ctx.encryption, cp: nodeTarget(ctx, cp) };
  for (const w of workerNodes) smokeDeps[`load:${w.name}`] = ctx.images.loads('test', w.name);
  for (const n of ctx.plan.nodes) smokeDeps[`node:${n.name}`] = nodeTarget(ctx, n.name);
  return target({
    name: 'cluster:smoke',
    description: `Smoke tests: encryption at rest, Deployment, port-forward, logs, exec, NodePort, pod-to-pod, DNS, authn/authz refusals, key modes on nodes; and the checks of the add-ons that are on`,
    deps: smokeDeps,
    alwaysRun: true,
    build: async (bctx) => {
      const checks: SmokeCheck[] = [];
      const report = (name: string, ok: boolean, saw: string) => {
        checks.push({ name, ok, saw });
        bctx.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${saw}`);
      };
      const check = async (name: string, fn: () => Promise<{ ok: boolean; saw: string }>) => {
        try {
          const r = await fn();
          report(name, r.ok, r.saw);
        } catch (error) {
          report(name, false, (error as Error).message.split('\n').slice(0, 4).join(' | '));
        }
      };
      const kubectlPath = rootPath(bctx.root, bctx.deps.kubectl.path);
      const adminKubeconfig = rootPath(bctx.root, kubeconfigPath(ctx.config, 'admin'));
      const kubectl = kubectlRunner(kubectlPath, adminKubeconfig);
      const ca = rootPath(bctx.root, ctx.certs.get('ca')!.cert);
      const cpContainer = bctx.deps.cp.container;
      const enc = bctx.deps.encryption;

      // 1. Secrets are encrypted at rest: the raw etcd value starts with the provider's prefix.
      await check('secret encrypted at rest', async () => {
        await kubectl(['delete', 'secret', 'harder-smoke', '--ignore-not-found']);
        await kubectl(['create', 'secret', 'generic', 'harder-smoke', '--from-literal=mykey=mydata']);
        const res = await nodeFleet.of(bctx).node(cpContainer).exec([...etcdctlArgs(), 'get', '/registry/secrets/default/harder-smoke', '--print-value-only']);
        const raw = res.stdout.toString('latin1');
        const prefix = `k8s:enc:${enc.provider}:v1:${enc.keyName}:`;
        const plain = raw.includes('mydata');
        return { ok: raw.startsWith(prefix) && !plain, saw: `value starts ${JSON.stringify(raw.slice(0, prefix.length + 4))}${plain ? ', and contains the plaintext' : ''}` };
      });

      // 2. A Deployment of the test image becomes Available.
      const replicas = Math.max(2, workerNodes.length);
      let running: Pod[] = [];
      await check('deployment available', async () => {
        await kubectl(['apply', '-f', '-'], { input: workloadManifests(ctx.images.test, ctx.images.testPort, replicas) });
        const status = await kubectl(['-n', NS, 'rollout', 'status', `deployment/${APP}`, '--timeout=120s'], { allowFailure: true, timeoutMs: 130_000 });
        running = await pods(kubectl);
        return { ok: status.exitCode === 0 && running.length >= replicas, saw: `${status.stdout.split('\n').pop()}; pods: ${running.map((p) => `${p.name}@${p.node}(${p.ip})`).join(', ')}` };
      });
      const first = running[0];

      // 3. port-forward, logs and exec (apiserver → kubelet streaming, RBAC on nodes/proxy).
      await check('port-forward', async () => {
        if (!first) return { ok: false, saw: 'no running pod' };
        const pf = await portForward(kubectlPath, adminKubeconfig, first.name, ctx.images.testPort);
        try {
          const res = await httpGet(`http://127.0.0.1:${pf.local}/`);
          return { ok: res.status === 200 && res.body.trim() === first.name, saw: `GET 127.0.0.1:${pf.local} → ${res.status} "${res.body.trim()}"` };
        } finally {
          pf.stop();
        }
      });
      await check('logs', async () => {
        if (!first) return { ok: false, saw: 'no running pod' };
        const out = await kubectl(['-n', NS, 'logs', first.name, '--tail=5']);
        const lines = `${out.stdout}`.trim().split('\n');
        return { ok: out.exitCode === 0 && /GET|response|127\.0\.0\.1|::1/.test(out.stdout), saw: `${lines.length} line(s), last: ${JSON.stringify(lines.at(-1) ?? '')}` };
      });
      await check('exec', async () => {
        if (!first) return { ok: false, saw: 'no running pod' };
        const out = await kubectl(['-n', NS, 'exec', first.name, '--', 'hostname']);
        return { ok: out.stdout.trim() === first.name, saw: `hostname → "${out.stdout.trim()}"` };
      });

      // 4. NodePort answers from the host network on every worker.
      await check('NodePort from the host', async () => {
        const svc = JSON.parse((await kubectl(['-n', NS, 'get', 'service', APP, '-o', 'json'])).stdout) as { spec: { ports: { nodePort: number }[] } };
        const port = svc.spec.ports[0]!.nodePort;
        // kube-proxy programs a new Service within seconds of its creation: allow it 30 s.
        let seen: string[] = [];
        let ok = false;
        for (let attempt = 0; attempt < 15 && !ok; attempt++) {
          if (attempt > 0) await sleep(2000, bctx.signal);
          seen = [];
          ok = true;
          for (const w of workerNodes) {
            const res = await httpGet(`http://${w.ip}:${port}/`).catch((e: Error) => ({ status: 0, body: e.message }));
            ok &&= res.status === 200 && running.some((p) => p.name === res.body.trim());
            seen.push(`${w.ip}:${port} → ${res.status} "${res.body.trim()}"`);
          }
        }
        return { ok, saw: seen.join('; ') };
      });

      // 5. A pod reaches a pod on another worker by pod IP.
      await check('pod to pod across workers', async () => {
        const a = running[0];
        const b = running.find((p) => p.node !== a?.node);
        if (!a || !b) return { ok: false, saw: `need pods on two workers, have ${running.map((p) => `${p.name}@${p.node}`).join(', ') || 'none'}` };
        const out = await kubectl(['-n', NS, 'exec', a.name, '--', 'wget', '-O', '-', `http://${b.ip}:${ctx.images.testPort}/`], { allowFailure: true, timeoutMs: 20_000 });
        // (busybox wget -q/-T crash in this build: plain wget, progress goes to stderr.)
        return { ok: out.stdout.trim() === b.name, saw: `${a.name}@${a.node} → ${b.ip} (${b.node}): "${(out.stdout || out.stderr).trim()}"` };
      });

      // 6. DNS resolves kubernetes.default from a pod. busybox nslookup ignores the search path, so the
      //    short name goes through the resolver like an application's would (ping prints what it resolved),
      //    and nslookup shows CoreDNS answering for the full name.
      await check('DNS kubernetes.default', async () => {
        if (!first) return { ok: false, saw: 'no running pod' };
        const want = ctx.plan.kubernetesServiceIp;
        let resolved = '';
        let fqdn = '';
        for (let attempt = 0; attempt < 10; attempt++) {
          const ping = await kubectl(['-n', NS, 'exec', first.name, '--', 'ping', '-c', '1', '-W', '1', 'kubernetes.default'], { allowFailure: true });
          resolved = /^PING kubernetes\.default \(([\d.]+)\)/m.exec(ping.stdout)?.[1] ?? `(${(ping.stderr || ping.stdout).trim().split('\n')[0]})`;
          const look = await kubectl(['-n', NS, 'exec', first.name, '--', 'nslookup', `kubernetes.default.svc.${ctx.config.clusterDomain}`], { allowFailure: true });
          const server = /^Server:\s*(\S+)/m.exec(look.stdout)?.[1] ?? '?';
          const answer = /^Name:[^\n]*\nAddress:\s*([\d.]+)/m.exec(look.stdout)?.[1] ?? '(no answer)';
          fqdn = `nslookup kubernetes.default.svc.${ctx.config.clusterDomain} via ${server} → ${answer}`;
          if (resolved === want && answer === want) break;
          await sleep(2000, bctx.signal);
        }
        return { ok: resolved === want && fqdn.endsWith(`→ ${want}`), saw: `kubernetes.default → ${resolved}; ${fqdn}` };
      });

      // 7. Unauthenticated requests are refused beyond health checks, by the apiserver and by kubelets.
      await check('anonymous apiserver request refused', async () => {
        const health = await apiRequest(`${ctx.plan.apiServerUrl}/healthz`, { ca: loadIdentity({ ca }).ca });
        const res = await apiRequest(`${ctx.plan.apiServerUrl}/api/v1/namespaces/kube-system/secrets`, { ca: loadIdentity({ ca }).ca });
        return { ok: (res.status === 401 || res.status === 403) && health.status === 200, saw: `/healthz → ${health.status}; /api/v1/namespaces/kube-system/secrets → ${res.status}` };
      });
      await check('anonymous kubelet request refused', async () => {
        const seen: string[] = [];
        let ok = true;
        for (const w of workerNodes) {
          const res = await apiRequest(`https://${w.ip}:10250/pods`, { ca: loadIdentity({ ca }).ca });
          ok &&= res.status === 401 || res.status === 403;
          seen.push(`${w.name} :10250/pods → ${res.status}`);
        }
        return { ok, saw: seen.join('; ') };
      });

      // 8. The Node authorizer: a kubelet cannot read a Secret no pod on its node uses.
      await check('kubelet cannot read unrelated secrets', async () => {
        const w = workerNodes[0]!;
        const spec = ctx.certs.get(`kubelet:${w.name}`)!;
        const identity = loadIdentity({ ca, cert: rootPath(bctx.root, spec.cert), key: rootPath(bctx.root, spec.key) });
        const res = await apiRequest(`${ctx.plan.apiServerUrl}/api/v1/namespaces/default/secrets/harder-smoke`, identity);
        const own = await apiRequest(`${ctx.plan.apiServerUrl}/api/v1/nodes/${w.name}`, identity);
        return { ok: res.status === 403 && own.status === 200, saw: `system:node:${w.name} GET secret default/harder-smoke → ${res.status}; GET its own Node → ${own.status}` };
      });

      // 9. Secrets on the nodes: private keys, kubeconfigs and the encryption config 0600; the CA key only on
      //    control planes (the controller-manager signs with it), never on workers.
      await check('node secrets 0600, CA key only on control planes', async () => {
        const seen: string[] = [];
        let ok = true;
        for (const planned of ctx.plan.nodes) {
          const node = bctx.deps[`node:${planned.name}`];
          if (!node) throw new Error(`no node:${planned.name} among the smoke test's dependencies`);
          const container = node.container;
          const res = await nodeFleet.of(bctx).node(container).exec(
            ['find', '/var/lib/kubernetes', '/var/lib/kubelet', '/var/lib/kube-proxy', '/etc/etcd', '-maxdepth', '1', '-type', 'f', '(', '-name', '*key*', '-o', '-name', '*kubeconfig', '-o', '-name', 'encryption-config.yaml', ')', '-printf', '%m %p\\n'],
            { allowFailure: true },
          );
          const files = res.stdout.toString('utf8').trim().split('\n').filter(Boolean);
          const loose = files.filter((l) => !l.startsWith('600 '));
          const caKey = files.some((l) => l.endsWith('/ca-key.pem'));
          const wantCaKey = planned.role === 'control-plane';
          ok &&= loose.length === 0 && caKey === wantCaKey && files.length > 0;
          seen.push(`${planned.name}: ${files.length} secret files${loose.length ? `, not 0600: ${loose.join(', ')}` : ' all 0600'}, CA key ${caKey ? 'present' : 'absent'}`);
        }
        return { ok, saw: seen.join('; ') };
      });

      // 10. With MetalLB on: a LoadBalancer Service gets an address of the pool and answers from the host there.
      const pool = ctx.plan.loadBalancerPool;
      if (ctx.config.addons.metallb.enabled && pool) {
        await check('LoadBalancer from the host', async () => {
          const lb = `${APP}-lb`;
          await kubectl(['apply', '-f', '-'], { input: loadBalancerService(lb, ctx.images.testPort) });
          try {
            const ip = await loadBalancerIp(kubectl, NS, lb, 60_000, bctx.signal);
            if (!ip) return { ok: false, saw: `${lb} got no address within 60 s` };
            const inPool = poolAddresses(pool).includes(ip);
            // The speaker's first ARP answer and kube-proxy's rules for the new address take a moment.
            let res = { status: 0, body: '' };
            for (let attempt = 0; attempt < 15; attempt++) {
              res = await httpGet(`http://${ip}/`).catch((e: Error) => ({ status: 0, body: e.message }));
              if (res.status === 200) break;
              await sleep(2000, bctx.signal);
            }
            const answered = res.status === 200 && running.some((p) => p.name === res.body.trim());
            return { ok: inPool && answered, saw: `${lb} → ${ip} (${inPool ? 'in' : 'NOT in'} the pool ${pool.first}-${pool.last}); GET http://${ip}/ → ${res.status} "${res.body.trim()}"` };
          } finally {
            await kubectl(['-n', NS, 'delete', 'service', lb, '--ignore-not-found'], { allowFailure: true });
          }
        });
      }

      // 11. The other add-ons' own checks, against the same workload.
      const env = { kubectl, ca: loadIdentity({ ca }).ca, workload: { namespace: NS, service: APP, port: 80, pods: () => running.map((p) => p.name) }, signal: bctx.signal };
      for (const addonCheck of deps.addonChecks ?? []) await check(addonCheck.name, () => addonCheck.run(env));

      await kubectl(['delete', 'secret', 'harder-smoke', '--ignore-not-found'], { allowFailure: true });
      const failed = checks.filter((c) => !c.ok);
      bctx.log(`${checks.length - failed.length}/${checks.length} checks passed`);
      if (failed.length) {
        throw new ClusterError(`smoke: ${failed.length} of ${checks.length} checks failed: ${failed.map((c) => `${c.name} (${c.saw})`).join('; ')}`, `the workload stays in namespace ${NS} for a look: kubectl -n ${NS} get all`);
      }
      return { checks };
    },
  });
}
