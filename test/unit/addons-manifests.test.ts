// The Ingress and metrics-server add-ons' objects, read back by PyYAML as kubectl would get them: every
// path a flag or config file names is inside a volume that is mounted, both TLS trusts use the cluster CA
// (never --kubelet-insecure-tls or insecureSkipTLSVerify), and the host finds the controller's address.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toYamlDocuments } from '../../tasks/cluster/render/yaml.ts';
import { parseYaml } from '../lib/pyyaml.ts';
import { metricsServerManifests } from '../../tasks/addons/metrics-server/manifests.ts';
import { httpsIngress, ingressManifests, INGRESS_DEFAULT_CERT_SECRET, renderTlsStoreConfig } from '../../tasks/addons/ingress/manifests.ts';
import { hostsLines, ingressAddressOf } from '../../tasks/addons/ingress/address.ts';
import { nodesWithFigures } from '../../tasks/addons/metrics-server/smoke.ts';

type Obj = { kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [k: string]: any };

const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n';
const unb64 = (text: string) => Buffer.from(text, 'base64').toString('utf8');
const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);

/** The directory a container mounts `volume` at, and the volume's source. */
function mountOf(pod: any, container: any, path: string): { volume: any; mountPath: string } | undefined {
  const mount = container.volumeMounts.find((m: { mountPath: string }) => path.startsWith(`${m.mountPath}/`));
  return mount ? { volume: pod.volumes.find((v: { name: string }) => v.name === mount.name), mountPath: mount.mountPath } : undefined;
}

const flag = (args: string[], name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

test('metrics-server: serving cert from a mounted Secret, kubelets checked against the cluster CA, APIService trusts the CA', () => {
  const objects = parseYaml(toYamlDocuments(metricsServerManifests({ image: 'ms:1', tlsCert: CERT, tlsKey: KEY, ca: CA }))) as Obj[];
  const [deployment] = byKind(objects, 'Deployment');
  const pod = deployment!.spec.template.spec;
  const container = pod.containers[0];
  const args: string[] = container.args;
  assert.not.ok(args.some((a) => a.startsWith('--kubelet-insecure-tls')), args.join(' '));
  assert.is(flag(args, 'kubelet-preferred-address-types'), 'InternalIP', 'the kubelet serving certs carry the node IP, not a resolvable name');

  const kubeletCa = mountOf(pod, container, flag(args, 'kubelet-certificate-authority')!);
  assert.equal(kubeletCa?.volume.configMap, { name: 'kube-root-ca.crt' }, 'the CA every namespace has (the controller-manager publishes its root CA)');
  assert.ok(flag(args, 'kubelet-certificate-authority')!.endsWith('/ca.crt'), 'the ConfigMap key is ca.crt');

  const secret = byKind(objects, 'Secret')[0]!;
  for (const [flagName, key] of [['tls-cert-file', 'tls.crt'], ['tls-private-key-file', 'tls.key']] as const) {
    const path = flag(args, flagName)!;
    const mount = mountOf(pod, container, path);
    assert.is(mount?.volume.secret.secretName, secret.metadata.name, `${flagName} is in the Secret's volume`);
    assert.is(path.slice(mount!.mountPath.length + 1), key);
  }
  assert.is(unb64(secret.data['tls.crt']), CERT);
  assert.is(unb64(secret.data['tls.key']), KEY);

  const [apiService] = byKind(objects, 'APIService');
  assert.is(apiService!.spec.insecureSkipTLSVerify, undefined);
  assert.is(unb64(apiService!.spec.caBundle), CA);
  const [service] = byKind(objects, 'Service');
  assert.equal(apiService!.spec.service, { name: service!.metadata.name, namespace: service!.metadata.namespace });
  assert.equal(service!.spec.selector, deployment!.spec.selector.matchLabels);
  // RBAC: kubelets authorize /metrics/resource as nodes/metrics.
  const roles = byKind(objects, 'ClusterRole').flatMap((r) => r.rules as { resources: string[]; verbs: string[] }[]);
  assert.ok(roles.some((r) => r.resources.includes('nodes/metrics') && r.verbs.includes('get')));
});

test('metrics-server: with a balanced API the pod reaches the API through the endpoint', () => {
  const objects = parseYaml(toYamlDocuments(metricsServerManifests({ image: 'ms:1', tlsCert: CERT, tlsKey: KEY, ca: CA, apiServer: { host: '10.240.0.2', port: 6443 } }))) as Obj[];
  const env = byKind(objects, 'Deployment')[0]!.spec.template.spec.containers[0].env;
  assert.equal(env, [{ name: 'KUBERNETES_SERVICE_HOST', value: '10.240.0.2' }, { name: 'KUBERNETES_SERVICE_PORT', value: '6443' }]);
});

test("Traefik: the default TLS store's files are the mounted Secret's pair, the file provider reads the mounted config", () => {
  const objects = parseYaml(toYamlDocuments(ingressManifests({ image: 'traefik:1', tlsCert: CERT, tlsKey: KEY, serviceType: 'LoadBalancer', replicas: 2 }))) as Obj[];
  const [deployment] = byKind(objects, 'Deployment');
  const pod = deployment!.spec.template.spec;
  const container = pod.containers[0];
  const args: string[] = container.args;
  const dynamicFile = flag(args, 'providers.file.filename')!;
  const dynamicMount = mountOf(pod, container, dynamicFile);
  const configMap = byKind(objects, 'ConfigMap').find((c) => c.metadata.name === dynamicMount?.volume.configMap.name)!;
  const fileText: string = configMap.data[dynamicFile.slice(dynamicMount!.mountPath.length + 1)];
  assert.is(fileText, renderTlsStoreConfig());
  const store = (parseYaml(fileText)[0] as any).tls.stores.default.defaultCertificate;
  const secret = byKind(objects, 'Secret')[0]!;
  assert.is(secret.metadata.name, INGRESS_DEFAULT_CERT_SECRET);
  for (const [path, key] of [[store.certFile, 'tls.crt'], [store.keyFile, 'tls.key']]) {
    const mount = mountOf(pod, container, path);
    assert.is(mount?.volume.secret.secretName, INGRESS_DEFAULT_CERT_SECRET, `${path} is in the Secret's volume`);
    assert.is(path.slice(mount!.mountPath.length + 1), key);
  }
  assert.is(unb64(secret.data['tls.crt']), CERT);
  assert.ok(args.includes('--providers.kubernetesingress=true'));

  const [ingressClass] = byKind(objects, 'IngressClass');
  assert.is(ingressClass!.metadata.annotations!['ingressclass.kubernetes.io/is-default-class'], 'true');
  const [service] = byKind(objects, 'Service');
  assert.is(service!.spec.type, 'LoadBalancer');
  // The Service's ports reach the container's named ports.
  const named = new Map(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
  assert.equal(service!.spec.ports.map((p: { port: number; targetPort: string }) => [p.port, named.get(p.targetPort)]), [[80, 8000], [443, 8443]]);
  assert.ok(args.includes(`--entryPoints.websecure.address=:${named.get('websecure')}`));
});

test('an HTTPS Ingress rule: the default class, websecure only, the host to the Service', () => {
  const [rule] = parseYaml(toYamlDocuments([httpsIngress({ name: 'demo', namespace: 'demo', host: 'demo.harder.test', service: 'echo', port: 80 })])) as Obj[];
  assert.is(rule!.spec.ingressClassName, 'traefik');
  assert.is(rule!.metadata.annotations!['traefik.ingress.kubernetes.io/router.entrypoints'], 'websecure');
  assert.is(rule!.spec.rules[0].host, 'demo.harder.test');
  assert.equal(rule!.spec.rules[0].http.paths[0].backend, { service: { name: 'echo', port: { number: 80 } } });
});

test("the controller's address: a LoadBalancer's IP once MetalLB gave one, else a worker and the node port", () => {
  const ports = [{ name: 'web', port: 80, nodePort: 30080 }, { name: 'websecure', port: 443, nodePort: 30443 }];
  assert.is(ingressAddressOf({ spec: { type: 'LoadBalancer', ports }, status: { loadBalancer: {} } }, ['10.240.0.20']), undefined);
  assert.equal(ingressAddressOf({ spec: { type: 'LoadBalancer', ports }, status: { loadBalancer: { ingress: [{ ip: '10.240.0.240' }] } } }, ['10.240.0.20']), { ip: '10.240.0.240', port: 443 });
  assert.equal(ingressAddressOf({ spec: { type: 'NodePort', ports } }, ['10.240.0.20', '10.240.0.21']), { ip: '10.240.0.20', port: 30443 });
  assert.equal(hostsLines({ ip: '10.240.0.240', port: 443 }, ['demo.harder.test']), ['10.240.0.240 demo.harder.test']);
});

test('kubectl top nodes: a node counts once it has CPU and memory figures, not <unknown>', () => {
  const output = ['worker-1   112m   5%     1024Mi   6%', 'worker-2   <unknown>   <unknown>   <unknown>   <unknown>', 'worker-3   7m     0%     301Mi    1%', ''].join('\n');
  assert.equal(nodesWithFigures(output), ['worker-1', 'worker-3']);
  assert.equal(nodesWithFigures('error: Metrics API not available'), []);
});

test.run();
