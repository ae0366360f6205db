// The Ingress controller's objects: Traefik in namespace `traefik` with its RBAC, the IngressClass
// `traefik` (the cluster's default class), its default TLS certificate (issued by the cluster CA,
// certs:ingress-default) and the LoadBalancer Service the host reaches it through. Pure: parameters in,
// objects out.
//
// How Traefik finds its certificate: the PKI's certificate and key go into the Secret traefik-default-cert,
// mounted into the pod; a file-provider config (the ConfigMap traefik-dynamic) names those two files as the
// default certificate of Traefik's default TLS store. Every HTTPS router without a certificate of its own
// (an Ingress with no `tls:` section, or an unknown host) is served with it: a wildcard for *.<domain>.

import type { Json } from '../../../lib/engine/target.ts';

export const INGRESS_NAMESPACE = 'traefik';
export const INGRESS_SERVICE = 'traefik';
export const INGRESS_CLASS = 'traefik';
/** The Secret with the default certificate. */
export const INGRESS_DEFAULT_CERT_SECRET = 'traefik-default-cert';
/** The annotations an Ingress carries to be served on HTTPS only (Traefik's own annotation names). */
export const HTTPS_INGRESS_ANNOTATIONS = {
  'traefik.ingress.kubernetes.io/router.entrypoints': 'websecure',
  'traefik.ingress.kubernetes.io/router.tls': 'true',
};

export type IngressParams = {
  image: string;
  /** PEM of the default certificate and its key. */
  tlsCert: string;
  tlsKey: string;
  /** `LoadBalancer` (MetalLB gives the address) or `NodePort` (no load balancer in the cluster). */
  serviceType: 'LoadBalancer' | 'NodePort';
  replicas: number;
  /** As CoreDNS's: the API endpoint's load balancer, when the config balances. */
  apiServer?: { host: string; port: number };
};

const ns = INGRESS_NAMESPACE;
const name = 'traefik';
const labels = { 'app.kubernetes.io/name': name };
const CERT_DIR = '/etc/traefik/certs';
const DYNAMIC_DIR = '/etc/traefik/dynamic';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

/** The file-provider config: the default TLS store's certificate is the mounted Secret's pair. */
export function renderTlsStoreConfig(): string {
  return ['tls:', '  stores:', '    default:', '      defaultCertificate:', `        certFile: ${CERT_DIR}/tls.crt`, `        keyFile: ${CERT_DIR}/tls.key`, ''].join('\n');
}

export function ingressManifests(p: IngressParams): Json[] {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'traefik-ingress-controller', labels },
      rules: [
        // What the kubernetesingress provider watches: Ingresses and classes, the Services and EndpointSlices
        // they route to, the Secrets of their tls sections, and Nodes (for ExternalName and status).
        { apiGroups: [''], resources: ['services', 'secrets', 'nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'ingressclasses'], verbs: ['get', 'list', 'watch'] },
        // It writes the Service's address into each Ingress's status (kubectl get ingress shows it).
        { apiGroups: ['networking.k8s.io'], resources: ['ingresses/status'], verbs: ['update'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'traefik-ingress-controller', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'traefik-ingress-controller' },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    },
    {
      // The default class: an Ingress that names no class is Traefik's.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: INGRESS_CLASS, labels, annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
      spec: { controller: 'traefik.io/ingress-controller' },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: INGRESS_DEFAULT_CERT_SECRET, namespace: ns, labels },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(p.tlsCert), 'tls.key': b64(p.tlsKey) },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'traefik-dynamic', namespace: ns, labels }, data: { 'tls.yaml': renderTlsStoreConfig() } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: ns, labels },
      spec: {
        replicas: p.replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' } }],
              },
            },
            containers: [
              {
                name,
                image: p.image,
                imagePullPolicy: 'Never',
                args: [
                  '--entryPoints.web.address=:8000',
                  '--entryPoints.websecure.address=:8443',
                  '--entryPoints.websecure.http.tls=true',
                  '--entryPoints.traefik.address=:8080',
                  '--ping=true',
                  '--providers.kubernetesingress=true',
                  // Ingress status gets the Service's load-balancer address.
                  `--providers.kubernetesingress.ingressendpoint.publishedservice=${ns}/${INGRESS_SERVICE}`,
                  `--providers.file.filename=${DYNAMIC_DIR}/tls.yaml`,
                  '--accesslog=true',
                  '--log.level=INFO',
                ],
                ...(p.apiServer
                  ? { env: [{ name: 'KUBERNETES_SERVICE_HOST', value: p.apiServer.host }, { name: 'KUBERNETES_SERVICE_PORT', value: String(p.apiServer.port) }] }
                  : {}),
                ports: [
                  { name: 'web', containerPort: 8000, protocol: 'TCP' },
                  { name: 'websecure', containerPort: 8443, protocol: 'TCP' },
                  { name: 'traefik', containerPort: 8080, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ping', port: 'traefik' }, periodSeconds: 5, failureThreshold: 2 },
                livenessProbe: { httpGet: { path: '/ping', port: 'traefik' }, periodSeconds: 10, failureThreshold: 3 },
                resources: { requests: { cpu: '50m', memory: '64Mi' } },
                securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                volumeMounts: [
                  { name: 'certs', mountPath: CERT_DIR, readOnly: true },
                  { name: 'dynamic', mountPath: DYNAMIC_DIR, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'certs', secret: { secretName: INGRESS_DEFAULT_CERT_SECRET } },
              { name: 'dynamic', configMap: { name: 'traefik-dynamic' } },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: INGRESS_SERVICE, namespace: ns, labels },
      spec: {
        type: p.serviceType,
        selector: labels,
        ports: [
          { name: 'web', port: 80, targetPort: 'web', protocol: 'TCP' },
          { name: 'websecure', port: 443, targetPort: 'websecure', protocol: 'TCP' },
        ],
      },
    },
  ];
}

/** An Ingress that sends https://<host>/ to a Service's port, with the default certificate. */
export function httpsIngress(p: { name: string; namespace: string; host: string; service: string; port: number }): Json {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: p.name, namespace: p.namespace, annotations: HTTPS_INGRESS_ANNOTATIONS },
    spec: {
      ingressClassName: INGRESS_CLASS,
      rules: [{ host: p.host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: p.service, port: { number: p.port } } } }] } }],
    },
  };
}
