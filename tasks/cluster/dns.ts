// Add-on targets applied from the host with kubectl: the apiserver→kubelet RBAC and CoreDNS.

import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { balancedApi, workers } from '../config/config.ts';
import { APISERVER_KUBELET_CLIENT_USER } from '../certs/catalog.ts';
import { apiRequest, loadIdentity } from './api-client.ts';
import { adminPaths, binaryOf, kubeconfigSource, type ClusterContext } from './context.ts';
import { NotReadyError } from './errors.ts';
import { kubectlRunner } from './kubectl.ts';
import { rootPath, sha256, sleep } from './node-targets.ts';
import { apiserverToKubeletRbac, coreDnsManifests } from './render/addons.ts';
import { toYamlDocuments } from './render/yaml.ts';
import { hostUpstreams } from './workers.ts';

async function exists(ctx: ClusterContext, root: string, path: string): Promise<string | undefined> {
  const res = await apiRequest(`${ctx.plan.apiServerUrl}${path}`, loadIdentity(adminPaths(ctx, root)), { timeoutMs: 3000 }).catch((e: Error) => ({ status: 0, body: e.message }));
  return res.status === 200 ? undefined : `GET ${path} answered ${res.status}`;
}

export function addonTargets(ctx: ClusterContext, deps: { apiserverReady: AnyTarget; nodesReady: Record<string, AnyTarget> }) {
  const kubectl = binaryOf(ctx, 'kubectl');
  const admin = kubeconfigSource(ctx, 'admin');
  const rbacYaml = toYamlDocuments(apiserverToKubeletRbac(APISERVER_KUBELET_CLIENT_USER));
  const rbac = target({
    name: 'cluster:kubelet-rbac',
    description: `Let the apiserver (${APISERVER_KUBELET_CLIENT_USER}) use kubelets: logs, exec, port-forward, stats`,
    deps: { apiserver: deps.apiserverReady, kubectl, admin: admin.from },
    inputs: { values: { manifest: sha256(rbacYaml) } },
    build: async (bctx) => {
      const run = kubectlRunner(rootPath(bctx.root, bctx.deps.kubectl.path), rootPath(bctx.root, admin.file));
      const out = await run(['apply', '--server-side', '--force-conflicts', '--field-manager=harder', '-f', '-'], { input: rbacYaml, signal: bctx.signal });
      bctx.log(out.stdout);
      return { user: APISERVER_KUBELET_CLIENT_USER };
    },
    probe: async (_r, actx) => exists(ctx, actx.root, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:kube-apiserver-to-kubelet'),
  });

  const workerNames = workers(ctx.config).map((n) => n.name);
  const corednsYaml = toYamlDocuments(
    coreDnsManifests({
      image: ctx.images.coredns,
      clusterDnsIp: ctx.config.clusterDnsIp,
      clusterDomain: ctx.config.clusterDomain,
      upstreams: hostUpstreams(),
      replicas: Math.min(2, workerNames.length),
      ...(balancedApi(ctx.config) && ctx.plan.apiEndpointIp ? { apiServer: { host: ctx.plan.apiEndpointIp, port: ctx.config.apiServerPort } } : {}),
    }),
  );
  const loads: Record<string, AnyTarget> = {};
  for (const node of workerNames) loads[`load:${node}`] = ctx.images.loads('coredns', node);
  const coredns = target({
    name: 'cluster:coredns',
    description: `CoreDNS (${ctx.images.coredns}) with its RBAC, ConfigMap, Deployment and the kube-dns Service at ${ctx.config.clusterDnsIp}`,
    deps: { ...deps.nodesReady, ...loads, rbac, kubectl, admin: admin.from },
    inputs: { values: { manifest: sha256(corednsYaml) } },
    build: async (bctx) => {
      const run = kubectlRunner(rootPath(bctx.root, bctx.deps.kubectl.path), rootPath(bctx.root, admin.file));
      const out = await run(['apply', '--server-side', '--force-conflicts', '--field-manager=harder', '-f', '-'], { input: corednsYaml, signal: bctx.signal });
      bctx.log(out.stdout);
      const status = await run(['-n', 'kube-system', 'rollout', 'status', 'deployment/coredns', '--timeout=180s'], { allowFailure: true, timeoutMs: 200_000, signal: bctx.signal });
      if (status.exitCode !== 0) {
        const pods = await run(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-dns', '-o', 'wide'], { allowFailure: true });
        const events = await run(['-n', 'kube-system', 'get', 'events', '--sort-by=.lastTimestamp'], { allowFailure: true });
        throw new NotReadyError(
          `CoreDNS did not become available: ${status.stderr || status.stdout}\n${pods.stdout}\n${events.stdout.split('\n').slice(-10).join('\n')}`,
          'check that the CoreDNS image is loaded on every worker (`load` targets) and the pods\' logs',
        );
      }
      return { image: ctx.images.coredns, clusterDnsIp: ctx.config.clusterDnsIp };
    },
    probe: async (_r, actx) => {
      const res = await apiRequest(`${ctx.plan.apiServerUrl}/apis/apps/v1/namespaces/kube-system/deployments/coredns`, loadIdentity(adminPaths(ctx, actx.root)), { timeoutMs: 3000 }).catch(
        (e: Error) => ({ status: 0, body: e.message }),
      );
      if (res.status !== 200) return `CoreDNS Deployment: GET answered ${res.status}`;
      const available = (JSON.parse(res.body) as { status?: { availableReplicas?: number } }).status?.availableReplicas ?? 0;
      return available > 0 ? undefined : 'CoreDNS has no available replica';
    },
  });
  return { rbac, coredns, all: [rbac, coredns] };
}

export { sleep };
