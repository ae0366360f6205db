// containerd's config (version 2 schema, read by containerd 1.6 from Debian) for the CRI plugin kubelet uses.

import { workerPaths } from '../layout.ts';

export type ContainerdParams = {
  /** The pause image tag, exactly as loaded into the node (containerd 1.6 cannot pin; see kubelet imageGC). */
  sandboxImage: string;
  /** Must equal kubelet's cgroupDriver: containerd 1.6 has no RuntimeConfig call to tell kubelet. */
  cgroupDriver: 'systemd' | 'cgroupfs';
  /** overlayfs needs /var/lib/containerd on a volume (nested overlay on overlay fails); native always works. */
  snapshotter: 'overlayfs' | 'native';
};

export function renderContainerdConfig(p: ContainerdParams): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return [
    '# containerd config for a Kubernetes worker (harder). Schema version 2 is what containerd 1.6 reads.',
    'version = 2',
    'root = "/var/lib/containerd"',
    'state = "/run/containerd"',
    '',
    `[${cri}]`,
    `  sandbox_image = ${JSON.stringify(p.sandboxImage)}`,
    '  # hugetlb is not mounted on these cgroup v1 hosts; without this the CRI plugin refuses every pod.',
    '  tolerate_missing_hugepages_controller = true',
    '  # Nodes run without CAP_SYS_RESOURCE: never ask for an oom_score_adj below containerd\'s own.',
    '  restrict_oom_score_adj = true',
    '',
    `[${cri}.containerd]`,
    `  snapshotter = ${JSON.stringify(p.snapshotter)}`,
    '  default_runtime_name = "runc"',
    '',
    `[${cri}.containerd.runtimes.runc]`,
    '  runtime_type = "io.containerd.runc.v2"',
    '',
    `[${cri}.containerd.runtimes.runc.options]`,
    `  SystemdCgroup = ${p.cgroupDriver === 'systemd'}`,
    '',
    `[${cri}.cni]`,
    `  bin_dir = ${JSON.stringify(workerPaths.cniBinDir)}`,
    `  conf_dir = ${JSON.stringify(workerPaths.cniConfDir)}`,
    '',
  ].join('\n');
}
