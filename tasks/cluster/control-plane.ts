// Control-plane targets: per control-plane node the certs, kubeconfigs, configs, binaries and units of
// kube-apiserver, kube-controller-manager and kube-scheduler; then `/readyz` through the API.

import { target, type AnyTarget, type ArtefactContext, type DepMap } from '../../lib/engine/target.ts';
import type { NodeHandle } from '../../lib/node/handle.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { apiEndpointContainer } from '../nodes/labels.ts';
import { runtimeApiArgv, runtimeApiCommand } from '../endpoint/render.ts';
import { controlPlanes } from '../config/config.ts';
import { APISERVER_KUBELET_CLIENT_USER } from '../certs/catalog.ts';
import { adminServerUrl } from '../certs/kubeconfig.ts';
import { apiRequest, loadIdentity } from './api-client.ts';
import type { KubernetesBinary } from '../binaries/index.ts';
import { adminPaths, nodeBinary, certSource, encryptionSource, kubeconfigSource, nodeTarget, plannedNode, serviceAccountSource, type ClusterContext, type UnitTarget } from './context.ts';
import { NotReadyError } from './errors.ts';
import { binDir, controlPlanePaths as cp, unitPath } from './layout.ts';
import { LOCAL_ETCD_URL } from './render/etcd.ts';
import { binaryTarget, fileTarget, sleep, unitTarget } from './node-targets.ts';
import { renderApiServerUnit, renderControllerManagerUnit, renderSchedulerConfig, renderSchedulerUnit } from './render/control-plane.ts';

export function serviceAccountIssuer(clusterDomain: string): string {
  return `https://kubernetes.default.svc.${clusterDomain}`;
}

/**
 * `etcdBinaries`: each control plane's `install:<node>:etcd`. An apiserver restarts when its etcd's binary
 * changes: it asks etcd once, at start-up, whether it supports progress notifications (the watch cache's
 * RequestWatchProgress), and keeps that answer; after an etcd upgrade only a restart asks again.
 */
export function controlPlaneTargets(ctx: ClusterContext, etcdHealthy: AnyTarget, etcdBinaries: Record<string, AnyTarget>) {
  const all: AnyTarget[] = [];
  const apiservers: Record<string, UnitTarget> = {};
  const others: Record<string, AnyTarget> = {};
  // Each component's unit by node, in node order: what rollout.ts orders one node at a time.
  const units = { 'kube-apiserver': [] as UnitTarget[], 'kube-controller-manager': [] as UnitTarget[], 'kube-scheduler': [] as UnitTarget[] };
  // The controller-manager and scheduler start only once the apiserver is ready (before that their RBAC
  // bootstrap roles may not exist yet and they exit). This record gets each apiserver unit in the loop
  // below; it is the readiness target's deps object itself, which the engine reads once the graph is built.
  const readyDeps: DepMap = { admin: ctx.pki.leaves['admin']!, ca: ctx.pki.cas.ca, ...(ctx.endpoint ? { endpoint: ctx.endpoint } : {}) };
  // Every control plane's apiserver, not only the one the kubeconfigs name: after a control plane
  // restarts, its apiserver must be ready again before the cluster counts as converged.
  const apiserverUrls = controlPlanes(ctx.config).map((n) => `https://${plannedNode(ctx, n.name).ip}:${ctx.config.apiServerPort}`);
  // Then the way the host (the admin kubeconfig, kubectl in later targets) and balanced in-cluster
  // clients come in: the API endpoint, once its health checks have found a ready apiserver.
  const endpointUrl = ctx.endpoint ? adminServerUrl(ctx.config, ctx.plan) : undefined;
  const ready = target({
    name: 'cluster:apiserver-ready',
    description: `Every kube-apiserver answers /livez and /readyz with the admin cert${endpointUrl ? `, and so does the API endpoint at ${endpointUrl}` : ''} (controller-manager and scheduler start after this)`,
    deps: readyDeps,
    build: async (bctx) => {
      await Promise.all(apiserverUrls.map((url) => waitApiReady(url, adminPaths(ctx, bctx.root), bctx.signal)));
      // HAProxy marks a server up after 2 passing checks 2 s apart: seconds after the apiserver is ready.
      if (endpointUrl) await waitApiReady(endpointUrl, adminPaths(ctx, bctx.root), bctx.signal, 60_000);
      // Nothing that changes with the control planes (not the plan's URL): the controller-managers, schedulers,
      // kubelets and kube-proxies are ordered after this check, and would all restart with its result.
      return { endpoint: endpointUrl ?? null, kubeletClientUser: APISERVER_KUBELET_CLIENT_USER };
    },
    probe: async (_result, actx) => {
      const identity = loadIdentity(adminPaths(ctx, actx.root));
      const answers = await Promise.all(
        [...apiserverUrls, ...(endpointUrl ? [endpointUrl] : [])].map(async (url) => {
          const res = await apiRequest(`${url}/readyz`, identity, { timeoutMs: 3000 }).catch((e: Error) => ({ status: 0, body: e.message }));
          return res.status === 200 ? undefined : `${url}/readyz answered ${res.status}: ${res.body.slice(0, 120)}`;
        }),
      );
      return answers.find((problem) => problem !== undefined);
    },
  });
  all.push(ready);
  // A running apiserver's restart (a new binary, a renewed certificate, a changed flag) is taken out of
  // the API endpoint first: HAProxy's checks need up to 4 s to notice it stopping and send it new
  // connections meanwhile (one API read in 1866 went unanswered in such a window during an upgrade).
  // Only where another apiserver serves.
  const drains = !!ctx.endpoint && controlPlanes(ctx.config).length >= 2;
  for (const spec of controlPlanes(ctx.config)) {
    const node = spec.name;
    const ip = plannedNode(ctx, node).ip;
    const nt = nodeTarget(ctx, node);
    const file = (id: string, path: string, description: string, source: Parameters<typeof fileTarget>[0]['source'], mode?: number) =>
      fileTarget({ node, nodeTarget: nt, id, path, description, source, ...(mode ? { mode } : {}) });
    const bin = (name: KubernetesBinary) => binaryTarget(node, nt, nodeBinary(ctx, name, node), name, `${binDir}/${name}`);
    const shared = {
      ca: file('ca', cp.ca, `cluster CA cert on ${node}`, certSource(ctx, 'ca', 'cert')),
      saKey: file('sa-key', cp.serviceAccountKey, `service-account signing key on ${node}`, serviceAccountSource(ctx, 'key'), 0o600),
    };
    const apiFiles = {
      ...shared,
      binary: bin('kube-apiserver'),
      etcd: etcdBinaries[node]!,
      etcdCa: file('etcd-ca-for-apiserver', cp.etcdCa, `etcd CA cert for the apiserver on ${node}`, certSource(ctx, 'etcd-ca', 'cert')),
      cert: file('apiserver-cert', cp.apiserverCert, `apiserver serving cert on ${node}`, certSource(ctx, `kube-apiserver:${node}`, 'cert')),
      key: file('apiserver-key', cp.apiserverKey, `apiserver serving key on ${node}`, certSource(ctx, `kube-apiserver:${node}`, 'key'), 0o600),
      kubeletClientCert: file('apiserver-kubelet-client-cert', cp.kubeletClientCert, `apiserver→kubelet client cert on ${node}`, certSource(ctx, 'apiserver-kubelet-client', 'cert')),
      kubeletClientKey: file('apiserver-kubelet-client-key', cp.kubeletClientKey, `apiserver→kubelet client key on ${node}`, certSource(ctx, 'apiserver-kubelet-client', 'key'), 0o600),
      etcdClientCert: file('apiserver-etcd-client-cert', cp.etcdClientCert, `apiserver→etcd client cert on ${node}`, certSource(ctx, 'apiserver-etcd-client', 'cert')),
      etcdClientKey: file('apiserver-etcd-client-key', cp.etcdClientKey, `apiserver→etcd client key on ${node}`, certSource(ctx, 'apiserver-etcd-client', 'key'), 0o600),
      saPub: file('sa-pub', cp.serviceAccountPub, `service-account public key on ${node}`, serviceAccountSource(ctx, 'pub')),
      frontProxyCa: file('front-proxy-ca', cp.frontProxyCa, `front-proxy CA cert on ${node}`, certSource(ctx, 'front-proxy-ca', 'cert')),
      frontProxyCert: file('front-proxy-client-cert', cp.frontProxyClientCert, `front-proxy client cert on ${node}`, certSource(ctx, 'front-proxy-client', 'cert')),
      frontProxyKey: file('front-proxy-client-key', cp.frontProxyClientKey, `front-proxy client key on ${node}`, certSource(ctx, 'front-proxy-client', 'key'), 0o600),
      encryption: file('encryption-config', cp.encryptionConfig, `encryption-at-rest config on ${node}`, encryptionSource(ctx), 0o600),
      unit: file('kube-apiserver-unit', unitPath('kube-apiserver'), `kube-apiserver unit on ${node}`, {
        text: renderApiServerUnit({
          advertiseAddress: ip,
          port: ctx.config.apiServerPort,
          // Its own node's etcd member only (kubeadm's stacked layout): adding or removing a member
          // changes no running apiserver's flags. With that member down this apiserver is not ready and
          // the API endpoint sends its clients to the others.
          etcdServers: [LOCAL_ETCD_URL],
          serviceCidr: ctx.config.serviceCidr,
          serviceAccountIssuer: serviceAccountIssuer(ctx.config.clusterDomain),
          frontProxy: { allowedNames: ['front-proxy-client'] },
        }),
      }),
    };
    const apiserver = unitTarget({
      node,
      nodeTarget: nt,
      unit: 'kube-apiserver',
      description: `kube-apiserver on ${node}`,
      files: apiFiles,
      after: { etcd: etcdHealthy },
      ...(drains ? { aroundRestart: (restart: () => Promise<void>, handle: NodeHandle, actx: ArtefactContext) => restartOutOfEndpoint(ctx, { name: node, ip }, 'it restarts', restart, handle, actx) } : {}),
    });
    const kcmFiles = {
      ...shared,
      binary: bin('kube-controller-manager'),
      caKey: file('ca-key', cp.caKey, `cluster CA key on ${node} (the controller-manager signs CSRs)`, certSource(ctx, 'ca', 'key'), 0o600),
      kubeconfig: file('kube-controller-manager-kubeconfig', cp.controllerManagerKubeconfig, `controller-manager kubeconfig on ${node}`, kubeconfigSource(ctx, 'kube-controller-manager'), 0o600),
      unit: file('kube-controller-manager-unit', unitPath('kube-controller-manager'), `kube-controller-manager unit on ${node}`, {
        text: renderControllerManagerUnit({ clusterName: ctx.config.clusterName, clusterCidr: ctx.config.clusterCidr, serviceCidr: ctx.config.serviceCidr }),
      }),
    };
    const kcm = unitTarget({ node, nodeTarget: nt, unit: 'kube-controller-manager', description: `kube-controller-manager on ${node}`, files: kcmFiles, after: { apiserver: ready } });
    const schedFiles = {
      binary: bin('kube-scheduler'),
      kubeconfig: file('kube-scheduler-kubeconfig', cp.schedulerKubeconfig, `scheduler kubeconfig on ${node}`, kubeconfigSource(ctx, 'kube-scheduler'), 0o600),
      config: file('kube-scheduler-config', cp.schedulerConfig, `scheduler config on ${node}`, { text: renderSchedulerConfig() }),
      unit: file('kube-scheduler-unit', unitPath('kube-scheduler'), `kube-scheduler unit on ${node}`, { text: renderSchedulerUnit() }),
    };
    const scheduler = unitTarget({ node, nodeTarget: nt, unit: 'kube-scheduler', description: `kube-scheduler on ${node}`, files: schedFiles, after: { apiserver: ready } });
    apiservers[node] = apiserver;
    units['kube-apiserver'].push(apiserver);
    units['kube-controller-manager'].push(kcm);
    units['kube-scheduler'].push(scheduler);
    readyDeps[`apiserver:${node}`] = apiserver;
    others[`kcm:${node}`] = kcm;
    others[`scheduler:${node}`] = scheduler;
    const unique = new Set<AnyTarget>([...Object.values(apiFiles), ...Object.values(kcmFiles), ...Object.values(schedFiles), apiserver, kcm, scheduler]);
    unique.delete(apiFiles.etcd); // the etcd step's own target
    all.push(...unique);
  }
  return { apiservers, components: others, units, ready, all };
}

/**
 * Runs `restart` (a unit on control plane `member`) with that node's apiserver out of the API endpoint:
 * runtime API `set server … state drain` (no new connection goes to it; open ones stay until the apiserver
 * closes them), then `state ready` once its apiserver answers /readyz again, also when the restart failed.
 * An apiserver that is not running is not serving through the endpoint: it restarts as it is. An endpoint
 * that refuses the drain is logged and the restart goes ahead with the server in (as without this).
 */
export async function restartOutOfEndpoint(ctx: ClusterContext, member: { name: string; ip: string }, why: string, restart: () => Promise<void>, node: NodeHandle, actx: ArtefactContext): Promise<void> {
  const serving = (await node.exec(['systemctl', 'is-active', '--quiet', 'kube-apiserver.service'], { allowFailure: true, readOnly: true })).exitCode === 0;
  if (!serving) return restart();
  const server = `kube-apiservers/${member.name}`;
  const endpoint = nodeFleet.of(actx).node(apiEndpointContainer(ctx.config.clusterName));
  const admin = async (command: string): Promise<string | undefined> => {
    const res = await endpoint.exec(runtimeApiArgv(command), { allowFailure: true }).catch(() => undefined);
    const said = res?.stdout.toString('utf8').trim() ?? '';
    // The runtime API answers an empty line when it did it, and says why not otherwise.
    return res?.exitCode === 0 && said === '' ? undefined : said || `exit ${res?.exitCode ?? 'none: the endpoint does not answer'}`;
  };
  const refused = await admin(`set server ${server} state drain`);
  if (refused) {
    actx.log(`the API endpoint did not take ${member.name}'s apiserver out (${refused}): restarting with it in`);
    return restart();
  }
  actx.log(`took ${member.name}'s apiserver out of the API endpoint (drain) while ${why}`);
  try {
    await restart();
    await waitApiReady(`https://${member.ip}:${ctx.config.apiServerPort}`, adminPaths(ctx, actx.root), actx.signal);
  } finally {
    const failed = await admin(`set server ${server} state ready`);
    if (failed) actx.log(`could not put ${member.name}'s apiserver back into the API endpoint (${failed}): \`docker exec ${apiEndpointContainer(ctx.config.clusterName)} sh -c "${runtimeApiCommand(`set server ${server} state ready`)}"\` does, as does a restart of that container`);
    else actx.log(`${member.name}'s apiserver is back in the API endpoint`);
  }
}

export async function waitApiReady(url: string, admin: { ca: string; cert: string; key: string }, signal: AbortSignal, timeoutMs = 120_000): Promise<void> {
  const identity = loadIdentity(admin);
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    for (const path of ['/livez', '/readyz']) {
      const res = await apiRequest(`${url}${path}`, identity, { timeoutMs: 3000 }).catch((e: Error) => ({ status: 0, body: e.message }));
      last = `${path} → ${res.status} ${res.body.slice(0, 200)}`;
      if (res.status !== 200) break;
      if (path === '/readyz') return;
    }
    await sleep(1000, signal);
  }
  throw new NotReadyError(`kube-apiserver at ${url} is not ready after ${timeoutMs / 1000} s: ${last}`, 'see `docker exec <control plane> journalctl -u kube-apiserver -n 50` (through the API endpoint: `docker logs <cluster>-api`)');
}
