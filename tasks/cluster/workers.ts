// Worker targets: containerd, CNI, kubelet (with its sysctl view), kube-proxy; then the Node is Ready.

import { readFileSync } from 'node:fs';
import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { workers } from '../config/config.ts';
import { loadIdentity, nodeReadiness, probeNodeReadiness } from './api-client.ts';
import type { KubernetesBinary } from '../binaries/index.ts';
import { adminPaths, nodeBinary, certSource, kubeconfigSource, nodeTarget, plannedNode, type ClusterContext, type UnitTarget } from './context.ts';
import { NotReadyError } from './errors.ts';
import { binDir, unitPath, workerPaths as w } from './layout.ts';
import { binaryTarget, fileTarget, journalTail, sleep, unitTarget } from './node-targets.ts';
import type { NodeFleet } from '../../lib/node/fleet.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { renderCniBridge, renderCniLoopback } from './render/cni.ts';
import { renderContainerdConfig } from './render/containerd.ts';
import { renderKubeProxyConfig, renderKubeProxyUnit } from './render/kube-proxy.ts';
import { renderKubeletConfig, renderKubeletUnit } from './render/kubelet.ts';
import { renderResolvConf, renderKubeletPrepareUnit, sysctlViewFiles, upstreamResolvers } from './render/node-system.ts';

/**
 * systemd on both sides. Nodes run systemd as PID 1 in a private cgroup namespace, so systemd owns the
 * node's cgroup tree; with cgroupfs, kubelet and systemd would both manage it (what the kubelet docs warn
 * against). containerd 1.6 cannot report its driver, so SystemdCgroup is set to match by hand.
 */
export const CGROUP_DRIVER = 'systemd' as const;

/** The host's non-loopback resolvers: what pods with dnsPolicy Default, and CoreDNS's `forward`, use. */
export function hostUpstreams(): string[] {
  try {
    return upstreamResolvers(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}

/** What the workers build on: the apiserver is ready, and each node's sysctl and pod-route units (node-system.ts) run. */
export type WorkerDeps = {
  apiserverReady: AnyTarget;
  sysctl: Record<string, UnitTarget>;
  routes: Record<string, UnitTarget>;
};

export function workerTargets(ctx: ClusterContext, deps: WorkerDeps) {
  const all: AnyTarget[] = [];
  const ready: Record<string, AnyTarget> = {};
  const containerdByNode: Record<string, UnitTarget> = {};
  // Each component's unit by node, in node order: what rollout.ts orders one node at a time.
  const units = { containerd: [] as UnitTarget[], kubelet: [] as UnitTarget[], 'kube-proxy': [] as UnitTarget[] };
  const upstreams = hostUpstreams();
  for (const spec of workers(ctx.config)) {
    const node = spec.name;
    const planned = plannedNode(ctx, node);
    const nt = nodeTarget(ctx, node);
    const file = (id: string, path: string, description: string, source: Parameters<typeof fileTarget>[0]['source'], mode?: number) =>
      fileTarget({ node, nodeTarget: nt, id, path, description, source, ...(mode ? { mode } : {}) });
    const bin = (name: KubernetesBinary) => binaryTarget(node, nt, nodeBinary(ctx, name, node), name, `${binDir}/${name}`);
    const sysctl = deps.sysctl[node]!;
    const pauseLoad = ctx.images.loads('pause', node);

    const containerdFiles = {
      config: file('containerd-config', w.containerdConfig, `containerd config of ${node}`, {
        text: renderContainerdConfig({ sandboxImage: ctx.images.pause, cgroupDriver: CGROUP_DRIVER, snapshotter: 'overlayfs' }),
      }),
    };
    const containerd = unitTarget({ node, nodeTarget: nt, unit: 'containerd', description: `containerd on ${node}`, files: containerdFiles, after: { sysctl } });
    containerdByNode[node] = containerd;

    const cni = {
      bridge: withOldBridgeRemoved(file('cni-bridge', w.cniBridge, `CNI network list (bridge, portmap) of ${node} (pod CIDR ${planned.podCidr})`, { text: renderCniBridge(planned.podCidr!) })),
      loopback: file('cni-loopback', w.cniLoopback, `CNI loopback config of ${node}`, { text: renderCniLoopback() }),
    };

    const viewFiles: Record<string, AnyTarget> = {};
    for (const [path, content] of Object.entries(sysctlViewFiles())) {
      const key = path.slice(path.lastIndexOf('/') + 1);
      viewFiles[key] = file(`sysctl-view-${key}`, path, `kubelet's view of ${key} on ${node}`, { text: content });
    }
    viewFiles.unit = file('kubelet-prepare-unit', unitPath('kubelet-prepare'), `kubelet-prepare unit of ${node}`, { text: renderKubeletPrepareUnit() });
    const sysctlView = unitTarget({ node, nodeTarget: nt, unit: 'kubelet-prepare', description: `kubelet's sysctl view and writable cgroups on ${node}`, files: viewFiles });

    const overrides = { ...(ctx.config.kubeletOverrides['*'] ?? {}), ...(ctx.config.kubeletOverrides[node] ?? {}) };
    const kubeletFiles = {
      binary: bin('kubelet'),
      ca: file('ca', w.ca, `cluster CA cert on ${node}`, certSource(ctx, 'ca', 'cert')),
      cert: file('kubelet-serving-cert', w.kubeletCert, `kubelet serving cert of ${node}`, certSource(ctx, `kubelet-serving:${node}`, 'cert')),
      key: file('kubelet-serving-key', w.kubeletKey, `kubelet serving key of ${node}`, certSource(ctx, `kubelet-serving:${node}`, 'key'), 0o600),
      kubeconfig: file('kubelet-kubeconfig', w.kubeletKubeconfig, `kubelet kubeconfig of ${node}`, kubeconfigSource(ctx, `kubelet:${node}`), 0o600),
      resolv: file('kubelet-resolv-conf', w.resolvConf, `pods' upstream resolv.conf on ${node}`, { text: renderResolvConf(upstreams) }),
      config: fileTarget({ node, nodeTarget: nt, id: 'kubelet-config', path: w.kubeletConfig, description: `kubelet config of ${node}`, values: { kubeletOverrides: overrides }, source: {
        text: renderKubeletConfig({
          nodeName: node,
          nodeIp: planned.ip,
          clusterDnsIp: ctx.config.clusterDnsIp,
          clusterDomain: ctx.config.clusterDomain,
          cgroupDriver: CGROUP_DRIVER,
          overrides,
        }),
      } }),
      unit: file('kubelet-unit', unitPath('kubelet'), `kubelet unit of ${node}`, { text: renderKubeletUnit({ nodeName: node, nodeIp: planned.ip }) }),
    };
    const kubelet = unitTarget({
      node,
      nodeTarget: nt,
      unit: 'kubelet',
      description: `kubelet on ${node}`,
      files: kubeletFiles,
      after: { containerd, sysctlView, pause: pauseLoad, apiserver: deps.apiserverReady },
    });

    const proxyFiles = {
      binary: bin('kube-proxy'),
      kubeconfig: file('kube-proxy-kubeconfig', w.kubeProxyKubeconfig, `kube-proxy kubeconfig of ${node}`, kubeconfigSource(ctx, 'kube-proxy'), 0o600),
      config: file('kube-proxy-config', w.kubeProxyConfig, `kube-proxy config of ${node}`, { text: renderKubeProxyConfig({ nodeName: node, clusterCidr: ctx.config.clusterCidr }) }),
      unit: file('kube-proxy-unit', unitPath('kube-proxy'), `kube-proxy unit of ${node}`, { text: renderKubeProxyUnit() }),
    };
    const proxy = unitTarget({ node, nodeTarget: nt, unit: 'kube-proxy', description: `kube-proxy on ${node}`, files: proxyFiles, after: { sysctl, apiserver: deps.apiserverReady } });

    units.containerd.push(containerd);
    units.kubelet.push(kubelet);
    units['kube-proxy'].push(proxy);
    const routes = deps.routes[node];
    const readyDeps = { kubelet, proxy, ...cni, apiserver: deps.apiserverReady, ...(routes ? { routes } : {}) };
    const nodeReady = target({
      name: `ready:${node}:node`,
      description: `Node ${node} is registered and Ready`,
      deps: readyDeps,
      build: async (bctx) => {
        await waitNodeReady(ctx.plan.apiServerUrl, adminPaths(ctx, bctx.root), node, bctx.deps.kubelet.container, bctx.signal, nodeFleet.of(bctx));
        return { node };
      },
      probe: async (_result, actx) => {
        const states = await probeNodeReadiness(ctx.plan.apiServerUrl, loadIdentity(adminPaths(ctx, actx.root)));
        const status = states.get(node);
        return status === 'True' ? undefined : `node ${node} is ${status === undefined ? 'not registered' : `Ready=${status}`}`;
      },
    });
    ready[node] = nodeReady;
    all.push(...Object.values(containerdFiles), containerd, ...Object.values(cni), ...Object.values(viewFiles), sysctlView, ...Object.values(kubeletFiles), kubelet);
    all.push(...Object.values(proxyFiles), proxy, nodeReady);
  }
  return { ready, containerd: containerdByNode, units, all };
}

async function waitNodeReady(url: string, admin: { ca: string; cert: string; key: string }, node: string, container: string, signal: AbortSignal, nodes: NodeFleet, timeoutMs = 120_000): Promise<void> {
  const identity = loadIdentity(admin);
  const deadline = performance.now() + timeoutMs;
  let last = 'not registered';
  while (performance.now() < deadline) {
    const status = await nodeReadiness(url, identity, signal).then(
      (m) => m.get(node),
      (e: Error) => `error: ${e.message}`,
    );
    if (status === 'True') return;
    last = status === undefined ? 'not registered' : `Ready=${status}`;
    await sleep(1000, signal);
  }
  const journal = await journalTail(nodes.node(container), 'kubelet');
  throw new NotReadyError(`node ${node} is not Ready after ${timeoutMs / 1000} s (${last}); kubelet's last journal lines:\n${journal}`, `docker exec ${container} journalctl -u kubelet -n 100`);
}

/**
 * The conflist install also removes the single-plugin `10-bridge.conf` a node made before it may still have:
 * containerd reads the first config file by name, and that one sorts before `10-bridge.conflist`.
 */
function withOldBridgeRemoved<T extends ReturnType<typeof fileTarget>>(install: T): T {
  // Changed in place, not copied: the target carries its declared node reads as a non-enumerable property
  // (lib/node/fleet.ts), which a spread would drop, and the probe would then never see the file.
  const build = install.build!;
  install.build = async (ctx) => {
    await nodeFleet.of(ctx).node(ctx.deps.node.container).exec(['rm', '-f', w.cniBridgeOld], { signal: ctx.signal });
    return build(ctx);
  };
  return install;
}
