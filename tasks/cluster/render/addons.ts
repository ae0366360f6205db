// Cluster add-ons as manifests: the RBAC that lets the apiserver use kubelets, and CoreDNS.

import type { Json } from '../../../lib/engine/target.ts';

/**
 * kubelet's webhook authorizer asks the apiserver whether the apiserver's own client identity may use
 * nodes/proxy (exec, attach, port-forward, logs) and the stats/metrics/log/spec subresources. Without this
 * binding, `kubectl logs/exec/port-forward` get 403 from the kubelet.
 */
export function apiserverToKubeletRbac(kubeletClientUser: string): Json[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: {
        name: 'system:kube-apiserver-to-kubelet',
        annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
        labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
      },
      rules: [{ apiGroups: [''], resources: ['nodes/proxy', 'nodes/stats', 'nodes/log', 'nodes/spec', 'nodes/metrics'], verbs: ['*'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:kube-apiserver-to-kubelet' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kube-apiserver-to-kubelet' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: kubeletClientUser }],
    },
  ];
}

export type CoreDnsParams = {
  image: string;
  clusterDnsIp: string;
  clusterDomain: string;
  /** Upstream resolvers; none means no `forward` (this machine has no route to public DNS, for example). */
  upstreams: string[];
  replicas: number;
  /**
   * Where CoreDNS reaches the API instead of the `kubernetes` Service (whose endpoints are the apiservers
   * themselves): the API endpoint's load balancer when the config balances, set as the in-cluster
   * config's KUBERNETES_SERVICE_HOST/PORT (a container's own env wins over the ones the kubelet injects).
   */
  apiServer?: { host: string; port: number };
};

export function renderCorefile(p: Pick<CoreDnsParams, 'clusterDomain' | 'upstreams'>): string {
  const lines = [
    '.:53 {',
    '    errors',
    '    health {',
    '        lameduck 5s',
    '    }',
    '    ready',
    `    kubernetes ${p.clusterDomain} in-addr.arpa ip6.arpa {`,
    '        pods insecure',
    '        fallthrough in-addr.arpa ip6.arpa',
    '        ttl 30',
    '    }',
    '    prometheus :9153',
  ];
  if (p.upstreams.length > 0) lines.push(`    forward . ${p.upstreams.join(' ')} {`, '        max_concurrent 1000', '    }');
  lines.push('    cache 30', '    loop', '    reload', '    loadbalance', '}');
  return `${lines.join('\n')}\n`;
}

export function coreDnsManifests(p: CoreDnsParams): Json[] {
  const ns = 'kube-system';
  const labels = { 'k8s-app': 'kube-dns' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: ns }, data: { Corefile: renderCorefile(p) } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: p.replicas,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            priorityClassName: 'system-cluster-critical',
            tolerations: [{ key: 'CriticalAddonsOnly', operator: 'Exists' }],
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' } },
                ],
              },
            },
            // CoreDNS itself must not resolve through itself.
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image: p.image,
                // No registry is reachable: the image is imported into every worker's containerd.
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ...(p.apiServer
                  ? {
                      env: [
                        { name: 'KUBERNETES_SERVICE_HOST', value: p.apiServer.host },
                        { name: 'KUBERNETES_SERVICE_PORT', value: String(p.apiServer.port) },
                      ],
                    }
                  : {}),
                resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
                volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
                  readOnlyRootFilesystem: true,
                },
                livenessProbe: {
                  httpGet: { path: '/health', port: 8080, scheme: 'HTTP' },
                  initialDelaySeconds: 60,
                  timeoutSeconds: 5,
                  successThreshold: 1,
                  failureThreshold: 5,
                },
                readinessProbe: { httpGet: { path: '/ready', port: 8181, scheme: 'HTTP' } },
              },
            ],
            volumes: [{ name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels: { ...labels, 'kubernetes.io/name': 'CoreDNS' } },
      spec: {
        selector: labels,
        clusterIP: p.clusterDnsIp,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          { name: 'metrics', port: 9153, protocol: 'TCP' },
        ],
      },
    },
  ];
}
