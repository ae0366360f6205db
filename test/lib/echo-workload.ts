// The workload the availability tests keep answering while they change the cluster under it: the echo
// image (built and loaded by the cluster's own targets) as a 2-replica Deployment, at most one pod per
// node, with a PodDisruptionBudget of minAvailable 1 and a NodePort Service in front. Printed as one
// multi-document YAML (JSON documents) for `kubectl apply -f -`.

import { TEST_IMAGE, TEST_IMAGE_PORT } from '../../tasks/images/cluster-images.ts';

export type EchoWorkload = {
  namespace: string;
  app: string;
  /**
   * Seconds a terminating pod keeps serving (a preStop sleep) while kube-proxy takes it out of the
   * Service: for tests that evict pods (a drain); without it a pod stops at once.
   */
  preStopSleepS?: number;
};

export function echoWorkload(spec: EchoWorkload): string {
  const labels = { app: spec.app };
  const meta = { name: spec.app, namespace: spec.namespace };
  const container = {
    name: 'echo',
    image: TEST_IMAGE,
    imagePullPolicy: 'Never',
    ports: [{ containerPort: TEST_IMAGE_PORT }],
    readinessProbe: { tcpSocket: { port: TEST_IMAGE_PORT }, periodSeconds: 1 },
    ...(spec.preStopSleepS ? { lifecycle: { preStop: { exec: { command: ['sleep', String(spec.preStopSleepS)] } } } } : {}),
  };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: spec.namespace } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta,
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            // One pod per node: a node that restarts its kubelet or is drained leaves the other pod serving.
            affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' }] } },
            ...(spec.preStopSleepS ? { terminationGracePeriodSeconds: 30 } : {}),
            containers: [container],
          },
        },
      },
    },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
    { apiVersion: 'v1', kind: 'Service', metadata: meta, spec: { type: 'NodePort', selector: labels, ports: [{ port: 80, targetPort: TEST_IMAGE_PORT }] } },
  ]
    .map((doc) => JSON.stringify(doc))
    .join('\n---\n');
}
