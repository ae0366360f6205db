// Node plumbing as boot-time units, so it survives `docker restart`: namespaced sysctls, routes to the
// other workers' pod CIDRs, and the sysctl view that keeps kubelet from changing the host kernel.

import { nodePaths, workerPaths } from '../layout.ts';
import { renderUnit } from './systemd.ts';

/**
 * Only per-network-namespace sysctls (checked on this kernel: bridge-nf-call-* and ip_forward differ per
 * netns), so writing them inside a node container changes that node alone, never the host.
 */
export const NODE_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.bridge.bridge-nf-call-ip6tables': '1',
};

export function renderSysctlConf(): string {
  const lines = ['# Namespaced sysctls for this node (harder); applied by node-sysctl.service at boot.'];
  for (const [key, value] of Object.entries(NODE_SYSCTLS)) lines.push(`${key} = ${value}`);
  return `${lines.join('\n')}\n`;
}

export function renderSysctlUnit(): string {
  return renderUnit({
    description: 'Namespaced sysctls a Kubernetes node needs',
    before: ['containerd.service', 'kubelet.service', 'kube-proxy.service'],
    service: { Type: 'oneshot', RemainAfterExit: 'yes' },
    exec: { path: 'sysctl', args: ['-p', nodePaths.sysctlConf] },
  });
}

export type PodRoute = { podCidr: string; via: string };

/** Routes to every other worker's pod CIDR via that worker; null when there is none to add. */
export function renderRoutesUnit(routes: PodRoute[]): string | null {
  if (routes.length === 0) return null;
  const [first, ...rest] = routes.map((r) => ['ip', 'route', 'replace', r.podCidr, 'via', r.via]);
  return renderUnit({
    description: 'Routes to the pod CIDRs of the other workers',
    after: ['network-online.target'],
    wants: ['network-online.target'],
    before: ['kubelet.service'],
    service: { Type: 'oneshot', RemainAfterExit: 'yes' },
    exec: { path: first![0]!, args: first!.slice(1) },
    moreExec: rest,
  });
}

/**
 * What kubelet's container manager expects of these host-global sysctls (pkg/kubelet/cm, setupKernelTunables).
 * With protectKernelDefaults it fails to start unless it reads exactly these; without it, it writes them,
 * which inside a node container would rewrite the host's kernel.panic and vm.overcommit_memory.
 */
export const KUBELET_KERNEL_EXPECTATIONS: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

export function sysctlViewFile(key: string): string {
  return `${workerPaths.sysctlViewDir}/${key.replace(/\//g, '.')}`;
}

/** The files the view mounts: path → content. */
export function sysctlViewFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const [key, value] of Object.entries(KUBELET_KERNEL_EXPECTATIONS)) files[sysctlViewFile(key)] = `${value}\n`;
  return files;
}

/**
 * What kubelet needs of the node's mounts before it starts (`kubelet-prepare.service`):
 * - read-only files bind-mounted over those /proc/sys entries, inside this node's mount namespace only:
 *   kubelet reads the values it expects, and the host's real settings stay as they were;
 * - the cgroup v1 `name=systemd` hierarchy writable: kubelet (systemd driver) creates kubepods.slice in
 *   every v1 hierarchy, and after boot that one is read-only in a node container. The `-` prefix lets
 *   hosts without it (cgroup v2 only) pass; kubelet then reports any real problem itself.
 */
export function renderKubeletPrepareUnit(): string {
  const mounts = Object.keys(KUBELET_KERNEL_EXPECTATIONS).map((key) => ['mount', '--bind', '-o', 'ro', sysctlViewFile(key), `/proc/sys/${key}`]);
  const [first, ...rest] = mounts;
  return renderUnit({
    description: 'Prepare mounts for kubelet: its expected kernel settings (host untouched), writable cgroups',
    before: ['kubelet.service'],
    service: { Type: 'oneshot', RemainAfterExit: 'yes' },
    // A second bind mount over a /proc/sys file fails (ENOENT): undo the previous one on a restart.
    execStartPre: Object.keys(KUBELET_KERNEL_EXPECTATIONS).map((key) => ['-umount', `/proc/sys/${key}`]),
    exec: { path: first![0]!, args: first!.slice(1) },
    moreExec: [...rest, ['-mount', '-o', 'remount,bind,rw', '/sys/fs/cgroup/systemd']],
  });
}

/**
 * kubelet's resolvConf: upstream resolvers for pods with dnsPolicy Default (CoreDNS forwards there).
 * The node's own /etc/resolv.conf names Docker's embedded DNS on 127.0.0.11, which a pod cannot reach.
 */
export function renderResolvConf(upstreams: string[]): string {
  const lines = ['# Upstream resolvers for pods (harder); Docker\'s 127.0.0.11 is unreachable from pod namespaces.'];
  for (const ip of upstreams) lines.push(`nameserver ${ip}`);
  return `${lines.join('\n')}\n`;
}

/** Non-loopback IPv4 nameservers from a resolv.conf text (the host's), in order. */
export function upstreamResolvers(resolvConf: string): string[] {
  const out: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const match = /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (match && !match[1]!.startsWith('127.')) out.push(match[1]!);
  }
  return out;
}
