// Where every file lives on a node. One table, so renderers, install targets and docs agree on paths.
// Private keys are installed 0600, everything else 0644; binaries 0755.

/** Files on control-plane nodes (etcd + apiserver + controller-manager + scheduler). */
export const controlPlanePaths = {
  dir: '/var/lib/kubernetes',
  ca: '/var/lib/kubernetes/ca.pem',
  /** Only here, and only because the controller-manager signs CSRs with it; never on workers. */
  caKey: '/var/lib/kubernetes/ca-key.pem',
  apiserverCert: '/var/lib/kubernetes/kube-apiserver.pem',
  apiserverKey: '/var/lib/kubernetes/kube-apiserver-key.pem',
  kubeletClientCert: '/var/lib/kubernetes/apiserver-kubelet-client.pem',
  kubeletClientKey: '/var/lib/kubernetes/apiserver-kubelet-client-key.pem',
  /** The etcd CA (a separate CA: see tasks/certs/catalog.ts), for --etcd-cafile. */
  etcdCa: '/var/lib/kubernetes/etcd-ca.pem',
  etcdClientCert: '/var/lib/kubernetes/apiserver-etcd-client.pem',
  etcdClientKey: '/var/lib/kubernetes/apiserver-etcd-client-key.pem',
  serviceAccountPub: '/var/lib/kubernetes/service-account.pem',
  serviceAccountKey: '/var/lib/kubernetes/service-account-key.pem',
  frontProxyCa: '/var/lib/kubernetes/front-proxy-ca.pem',
  frontProxyClientCert: '/var/lib/kubernetes/front-proxy-client.pem',
  frontProxyClientKey: '/var/lib/kubernetes/front-proxy-client-key.pem',
  encryptionConfig: '/var/lib/kubernetes/encryption-config.yaml',
  controllerManagerKubeconfig: '/var/lib/kubernetes/kube-controller-manager.kubeconfig',
  schedulerKubeconfig: '/var/lib/kubernetes/kube-scheduler.kubeconfig',
  schedulerConfig: '/etc/kubernetes/config/kube-scheduler.yaml',
} as const;

export const etcdPaths = {
  ca: '/etc/etcd/ca.pem',
  serverCert: '/etc/etcd/etcd-server.pem',
  serverKey: '/etc/etcd/etcd-server-key.pem',
  peerCert: '/etc/etcd/etcd-peer.pem',
  peerKey: '/etc/etcd/etcd-peer-key.pem',
  /** A subdirectory, so a data dir left by the Debian package's own etcd unit never mixes with ours. */
  dataDir: '/var/lib/etcd/harder',
  /** The initial cluster and its state for the member's first start (tasks/cluster/render/etcd.ts). */
  bootstrapEnv: '/etc/etcd/bootstrap.env',
  /** Built from etcd's Go modules (bin:etcd), beside the Kubernetes binaries. */
  etcd: '/usr/local/bin/etcd',
  etcdctl: '/usr/local/bin/etcdctl',
} as const;

export const workerPaths = {
  ca: '/var/lib/kubernetes/ca.pem',
  kubeletCert: '/var/lib/kubelet/kubelet.pem',
  kubeletKey: '/var/lib/kubelet/kubelet-key.pem',
  kubeletKubeconfig: '/var/lib/kubelet/kubeconfig',
  kubeletConfig: '/var/lib/kubelet/kubelet-config.yaml',
  kubeProxyKubeconfig: '/var/lib/kube-proxy/kubeconfig',
  kubeProxyConfig: '/var/lib/kube-proxy/kube-proxy-config.yaml',
  containerdConfig: '/etc/containerd/config.toml',
  /** A network list (.conflist: bridge, then portmap); containerd uses the first file by name. */
  cniBridge: '/etc/cni/net.d/10-bridge.conflist',
  /** Where a node made before the conflist kept its single-plugin config (it would sort first, so it is removed). */
  cniBridgeOld: '/etc/cni/net.d/10-bridge.conf',
  cniLoopback: '/etc/cni/net.d/99-loopback.conf',
  /** kubelet's resolvConf: the upstream resolvers pods with dnsPolicy Default (CoreDNS) get. */
  resolvConf: '/etc/kubernetes/resolv.conf',
  /** Directory of read-only files bind-mounted over host-global sysctls, see render/node-system.ts. */
  sysctlViewDir: '/etc/kubernetes/sysctl-view',
  containerdSocket: 'unix:///run/containerd/containerd.sock',
  cniBinDir: '/usr/lib/cni',
  cniConfDir: '/etc/cni/net.d',
} as const;

/** Files every node gets (network plumbing). */
export const nodePaths = {
  sysctlConf: '/etc/kubernetes/sysctl.conf',
} as const;

export const binDir = '/usr/local/bin';

export function unitPath(unit: string): string {
  return `/etc/systemd/system/${unit}.service`;
}
