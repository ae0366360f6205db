// kubelet's KubeletConfiguration and unit for one worker.

import type { Json } from '../../../lib/engine/target.ts';
import { binDir, workerPaths as w } from '../layout.ts';
import { renderUnit } from './systemd.ts';
import { toYaml } from './yaml.ts';

export type KubeletParams = {
  nodeName: string;
  nodeIp: string;
  clusterDnsIp: string;
  clusterDomain: string;
  cgroupDriver: 'systemd' | 'cgroupfs';
  /** Fields merged over the rendered configuration last (config `kubeletOverrides`), e.g. `{ maxPods: 50 }`. */
  overrides?: Record<string, Json>;
};

/**
 * The configuration. Choices worth knowing:
 * - protectKernelDefaults: true — kubelet only checks vm.overcommit_memory, kernel.panic, ... and never
 *   writes them. On a node container those are the HOST's settings; the node shows kubelet the values it
 *   expects through read-only bind mounts (render/node-system.ts), so the check passes and the host is untouched.
 * - imageGCHighThresholdPercent: 100 — images are imported, never pulled (no registry); containerd 1.6 cannot
 *   pin the pause image, so image garbage collection must never run.
 * - evictionHard at 0% for disk — a node container sees the host's disk; eviction would react to the host.
 * - failCgroupV1: false — these hosts are cgroup v1; 1.34 runs on it with a warning, said explicitly.
 */
export function kubeletConfig(p: KubeletParams): Record<string, Json> {
  const base: Record<string, Json> = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: '0.0.0.0',
    port: 10250,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: w.ca },
    },
    authorization: { mode: 'Webhook' },
    cgroupDriver: p.cgroupDriver,
    clusterDNS: [p.clusterDnsIp],
    clusterDomain: p.clusterDomain,
    containerRuntimeEndpoint: w.containerdSocket,
    evictionHard: { 'imagefs.available': '0%', 'nodefs.available': '0%', 'nodefs.inodesFree': '0%' },
    failCgroupV1: false,
    failSwapOn: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    protectKernelDefaults: true,
    registerNode: true,
    resolvConf: w.resolvConf,
    runtimeRequestTimeout: '15m',
    tlsCertFile: w.kubeletCert,
    tlsPrivateKeyFile: w.kubeletKey,
  };
  return { ...base, ...(p.overrides ?? {}) };
}

export function renderKubeletConfig(p: KubeletParams): string {
  return toYaml(kubeletConfig(p));
}

export function renderKubeletUnit(p: { nodeName: string; nodeIp: string }): string {
  return renderUnit({
    description: 'Kubernetes Kubelet',
    documentation: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/',
    after: ['containerd.service', 'kubelet-prepare.service'],
    requires: ['containerd.service', 'kubelet-prepare.service'],
    service: { Restart: 'on-failure', RestartSec: 5 },
    exec: {
      path: `${binDir}/kubelet`,
      flags: {
        config: w.kubeletConfig,
        kubeconfig: w.kubeletKubeconfig,
        // The node's address on the cluster network, not whatever interface kubelet would guess.
        'node-ip': p.nodeIp,
        'hostname-override': p.nodeName,
        v: 2,
      },
    },
  });
}
