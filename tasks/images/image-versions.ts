// Which Kubernetes versions the cluster supports: per minor, the pause, CoreDNS and etcd versions kubeadm deploys.
// A module of its own, with no imports, so the config check (tasks/config/config.ts) can read it cheaply.

/**
 * Per Kubernetes 1.x minor: the pause and CoreDNS versions kubeadm deploys (cmd/kubeadm/app/constants), and
 * etcd at the minor kubeadm deploys (1.32 and 1.33: 3.5, 1.34: 3.6) in the newest patch the Go module proxy
 * here serves for both go.etcd.io/etcd/server/v3 and go.etcd.io/etcd/etcdctl/v3 (etcd is built from them).
 */
export const KUBEADM_IMAGE_VERSIONS: Record<number, { pause: string; coredns: string; etcd: string }> = {
  32: { pause: '3.10', coredns: 'v1.11.3', etcd: 'v3.5.36' },
  33: { pause: '3.10', coredns: 'v1.12.0', etcd: 'v3.5.36' },
  34: { pause: '3.10.1', coredns: 'v1.12.1', etcd: 'v3.6.17' },
};

/** The row for a `vMAJOR.MINOR.PATCH` version, or undefined when its minor has none (or it is not 1.x). */
export function kubeadmImageVersions(kubernetesVersion: string): { pause: string; coredns: string; etcd: string } | undefined {
  const match = /^v1\.(\d+)\.\d+$/.exec(kubernetesVersion);
  return match ? KUBEADM_IMAGE_VERSIONS[Number(match[1])] : undefined;
}

/** The minors with a row, for messages: `1.32, 1.33, 1.34`. */
export function supportedKubernetesMinors(): string[] {
  return Object.keys(KUBEADM_IMAGE_VERSIONS).map((minor) => `1.${minor}`);
}
