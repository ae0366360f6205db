// An example cluster spec: copy it to harder.config.ts (at the project root) and edit; every field is optional.

import { defineCluster } from './tasks/config/define.ts';
import { defaultNodes } from './tasks/config/config.ts';

export default defineCluster({
  clusterName: 'harder',
  // 1 control plane and 3 workers: controller-1, worker-1..3. Or list them: [{ name: 'worker-1', role: 'worker' }, ...].
  nodes: defaultNodes({ controlPlanes: 1, workers: 3 }),
  binarySource: 'auto',
  // etcd's release: 'auto' is the minor kubeadm pairs with kubernetesVersion (3.6 for 1.34); etcd moves one minor a run.
  etcdVersion: 'auto',
  // KubeletConfiguration fields by worker name ('*': every worker).
  kubeletOverrides: { 'worker-3': { maxPods: 50 } },
});
