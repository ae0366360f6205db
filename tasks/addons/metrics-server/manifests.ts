// metrics-server's objects: its RBAC, the Secret with its serving certificate (issued by the cluster CA,
// certs:metrics-server), the Deployment, the Service, and the APIService that registers metrics.k8s.io
// with the apiserver's aggregation layer. Pure: parameters in, objects out.
//
// Trust, both ways, without --kubelet-insecure-tls or insecureSkipTLSVerify:
// - apiserver → metrics-server: the APIService's caBundle is the cluster CA, which signed the serving cert;
//   the apiserver checks it against metrics-server.kube-system.svc (a SAN of that cert) while it dials the
//   pod's IP (--enable-aggregator-routing). It authenticates itself with the front-proxy client cert,
//   which metrics-server checks against the front-proxy CA from the extension-apiserver-authentication ConfigMap.
// - metrics-server → kubelets: by InternalIP (the node IP is a SAN of every kubelet serving cert), checked
//   against the cluster CA from the kube-root-ca.crt ConfigMap every namespace has; it authenticates with
//   its ServiceAccount token (kubelets run webhook authentication) and is allowed nodes/metrics by RBAC.

import type { Json } from '../../../lib/engine/target.ts';

export const METRICS_SERVER_NAMESPACE = 'kube-system';
export const METRICS_SERVER_NAME = 'metrics-server';
/** The Service's names the serving certificate carries (csr/metrics-server-csr.json). */
export const METRICS_SERVER_SERVICE_HOST = `${METRICS_SERVER_NAME}.${METRICS_SERVER_NAMESPACE}.svc`;

export type MetricsServerParams = {
  image: string;
  /** PEM of the serving certificate and its key (certs:metrics-server). */
  tlsCert: string;
  tlsKey: string;
  /** PEM of the cluster CA: the APIService's caBundle. */
  ca: string;
  /** As CoreDNS's: the API endpoint's load balancer, when the config balances. */
  apiServer?: { host: string; port: number };
};

const ns = METRICS_SERVER_NAMESPACE;
const name = METRICS_SERVER_NAME;
const labels = { 'k8s-app': name };
const TLS_DIR = '/etc/metrics-server/tls';
const KUBELET_CA_DIR = '/etc/metrics-server/kubelet-ca';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export function metricsServerManifests(p: MetricsServerParams): Json[] {
  const sa = [{ kind: 'ServiceAccount', name, namespace: ns }];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels } },
    {
      // Lets view/edit/admin read metrics (kubectl top as a namespace user).
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: {
        name: 'system:aggregated-metrics-reader',
        labels: { ...labels, 'rbac.authorization.k8s.io/aggregate-to-view': 'true', 'rbac.authorization.k8s.io/aggregate-to-edit': 'true', 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' },
      },
      rules: [{ apiGroups: ['metrics.k8s.io'], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:metrics-server', labels },
      rules: [
        // The kubelets' /metrics/resource is the nodes/metrics subresource to their webhook authorizer.
        { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:metrics-server', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:metrics-server' },
      subjects: sa,
    },
    {
      // Delegated authentication and authorization: TokenReview and SubjectAccessReview for its callers.
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'metrics-server:system:auth-delegator', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: sa,
    },
    {
      // Reads the front-proxy CA and allowed names the apiserver publishes in kube-system.
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'metrics-server-auth-reader', namespace: ns, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'extension-apiserver-authentication-reader' },
      subjects: sa,
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${name}-tls`, namespace: ns, labels },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(p.tlsCert), 'tls.key': b64(p.tlsKey) },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        // A new pod is ready before the old one goes: the metrics API never has no backend during an update.
        strategy: { rollingUpdate: { maxUnavailable: 0 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            priorityClassName: 'system-cluster-critical',
            containers: [
              {
                name,
                image: p.image,
                imagePullPolicy: 'Never',
                args: [
                  '--secure-port=10250',
                  `--tls-cert-file=${TLS_DIR}/tls.crt`,
                  `--tls-private-key-file=${TLS_DIR}/tls.key`,
                  `--kubelet-certificate-authority=${KUBELET_CA_DIR}/ca.crt`,
                  '--kubelet-preferred-address-types=InternalIP',
                  '--kubelet-use-node-status-port',
                  '--metric-resolution=15s',
                ],
                ...(p.apiServer
                  ? { env: [{ name: 'KUBERNETES_SERVICE_HOST', value: p.apiServer.host }, { name: 'KUBERNETES_SERVICE_PORT', value: String(p.apiServer.port) }] }
                  : {}),
                ports: [{ name: 'https', containerPort: 10250, protocol: 'TCP' }],
                readinessProbe: { httpGet: { path: '/readyz', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10, failureThreshold: 3, initialDelaySeconds: 20 },
                livenessProbe: { httpGet: { path: '/livez', port: 'https', scheme: 'HTTPS' }, periodSeconds: 10, failureThreshold: 3 },
                resources: { requests: { cpu: '100m', memory: '200Mi' } },
                securityContext: {
                  readOnlyRootFilesystem: true,
                  runAsNonRoot: true,
                  runAsUser: 65534,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'tls', mountPath: TLS_DIR, readOnly: true },
                  { name: 'kubelet-ca', mountPath: KUBELET_CA_DIR, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'tls', secret: { secretName: `${name}-tls` } },
              { name: 'kubelet-ca', configMap: { name: 'kube-root-ca.crt' } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels },
      spec: { selector: labels, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 'https', appProtocol: 'https' }] },
    },
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: 'v1beta1.metrics.k8s.io', labels },
      spec: {
        service: { name, namespace: ns },
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        caBundle: b64(p.ca),
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    },
  ];
}
