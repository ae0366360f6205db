// The cluster's certificate catalogue: which certificates exist, who signs them, with which profile and
// request config, and the per-node values filled into those configs. Pure: config + IP plan in, list out.
//
// Design (issue 3; improves on the seed as kubeadm does):
// - One certificate per purpose. The seed's single `kubernetes` cert served the apiserver, etcd and the
//   apiserver's client access to etcd and kubelets; here each of those is its own cert with its own EKU.
// - Three CAs. `ca` signs cluster identities. `etcd-ca` signs only etcd members and the apiserver's etcd
//   client cert: etcd runs with --client-cert-auth, so with one CA any cluster cert (a kubelet's, admin's)
//   could read and write etcd directly. `front-proxy-ca` signs the aggregation-layer client cert, which
//   the apiserver trusts to assert any user through request headers, so it must not share a CA either.
// - Kubelets get two certs: `kubelet:<node>` (client, system:node:<node> in system:nodes, embedded in the
//   kubelet's kubeconfig) and `kubelet-serving:<node>` (server, SANs node name + IP, used for the kubelet's
//   HTTPS port the apiserver dials). Server certs get serverAuth only and client certs clientAuth only, so
//   a stolen kubelet serving key cannot log in to the apiserver.
// - The apiserver reaches kubelets with `apiserver-kubelet-client`, CN kube-apiserver-kubelet-client and
//   no group: rather than system:masters (full cluster admin, what kubeadm did before 1.29), the control
//   plane binds this user to the built-in ClusterRole system:kubelet-api-admin (APISERVER_KUBELET_CLIENT_USER).
// - Component client certs carry only the user (CN), as kubeadm's do: the built-in RBAC bindings name the
//   users system:kube-controller-manager, system:kube-scheduler and system:kube-proxy; groups would grant nothing.
// - etcd server certs use the `peer` profile (serverAuth + clientAuth): etcd's own gRPC gateway dials the
//   member with its server cert as a client cert when --client-cert-auth is on (kubeadm does the same).

import type { RequestVariables } from '../../lib/pki/request.ts';
import { controlPlanes, workers, type ClusterConfig } from '../config/config.ts';
import { clusterOf } from '../config/clusters.ts';
import { apiEndpointContainer } from '../nodes/labels.ts';
import type { IpPlan } from '../net/ip-plan.ts';
import { ingressDomain } from '../addons/ingress/domain.ts';

/** Where this cluster's PKI material lives, relative to the project root: `pki/` in its state directory. */
export function pkiDir(config: Pick<ClusterConfig, 'clusterName' | 'stateDir'>): string {
  return `${clusterOf(config).stateDir}/pki`;
}
export const CSR_DIR = 'csr';
export const SIGNING_CONFIG = `${CSR_DIR}/ca-config.json`;

/** The user the apiserver is when it calls kubelets (bind it to ClusterRole system:kubelet-api-admin). */
export const APISERVER_KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** Profiles of csr/ca-config.json used by the catalogue. */
export type CertProfile = 'ca' | 'server' | 'client' | 'peer';

/** The CAs, by the catalogue id of their certificate. */
export type CaId = 'ca' | 'etcd-ca' | 'front-proxy-ca';

export type CertSpec = {
  /** Catalogue id: `admin`, `kubelet:worker-1`; the target is `certs:<id>`. */
  id: string;
  description: string;
  /** Request config, relative to the root. */
  request: string;
  profile: CertProfile;
  /** The CA that signs it; null for the self-signed CAs. */
  signer: CaId | null;
  /** Values for the request's ${placeholders} (node names, planned addresses, cluster domain). */
  vars: RequestVariables;
  /** Certificate and key paths, relative to the root. */
  cert: string;
  key: string;
};

/** A catalogue entry builder whose files go to `dir` (the cluster's pkiDir). */
const specIn = (dir: string) =>
  function spec(id: string, description: string, request: string, profile: CertProfile, signer: CaId | null, vars: RequestVariables = {}): CertSpec {
    const base = id.replace(/:/g, '-');
    return { id, description, request: `${CSR_DIR}/${request}`, profile, signer, vars, cert: `${dir}/${base}.crt`, key: `${dir}/${base}.key` };
  };

/** The CAs, in dependency order. */
export function caCatalog(config: Pick<ClusterConfig, 'clusterName' | 'stateDir'>): CertSpec[] {
  const spec = specIn(pkiDir(config));
  return [
    spec('ca', 'Cluster CA: signs every component and node identity', 'ca-csr.json', 'ca', null),
    spec('etcd-ca', 'etcd CA: signs etcd members and the apiserver etcd client only', 'etcd-ca-csr.json', 'ca', null),
    spec('front-proxy-ca', 'Front-proxy CA: signs the aggregation-layer client cert', 'front-proxy-ca-csr.json', 'ca', null),
  ];
}

/** Every leaf certificate of the cluster for this config and plan. */
export function leafCatalog(config: ClusterConfig, plan: IpPlan): CertSpec[] {
  const spec = specIn(pkiDir(config));
  const ipOf = (name: string) => {
    const node = plan.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`node ${name} is missing from the IP plan`);
    return node.ip;
  };
  const cps = controlPlanes(config);
  const leaves: CertSpec[] = [
    spec('admin', 'Cluster admin client cert (admin, system:masters), used from the host', 'admin-csr.json', 'client', 'ca'),
    spec('kube-controller-manager', 'kube-controller-manager client cert', 'kube-controller-manager-csr.json', 'client', 'ca'),
    spec('kube-scheduler', 'kube-scheduler client cert', 'kube-scheduler-csr.json', 'client', 'ca'),
    spec('kube-proxy', 'kube-proxy client cert (user system:kube-proxy)', 'kube-proxy-csr.json', 'client', 'ca'),
    spec('apiserver-kubelet-client', 'kube-apiserver → kubelet client cert', 'apiserver-kubelet-client-csr.json', 'client', 'ca'),
    spec('apiserver-etcd-client', 'kube-apiserver → etcd client cert (etcd CA)', 'apiserver-etcd-client-csr.json', 'client', 'etcd-ca'),
    spec('front-proxy-client', 'Aggregation-layer client cert (front-proxy CA)', 'front-proxy-client-csr.json', 'client', 'front-proxy-ca'),
  ];
  for (const node of cps) {
    const vars = { node: node.name, nodeIp: ipOf(node.name) };
    // One serving cert per control plane, naming only its own node (as kubeadm issues them): adding or
    // removing a control plane then issues or drops that node's cert and leaves every running apiserver's
    // cert, and so the apiserver itself, untouched. A shared cert listing every control plane would be
    // re-issued by each change and restart all apiservers at once.
    leaves.push(
      spec(`kube-apiserver:${node.name}`, `kube-apiserver serving cert of ${node.name} (service IP, ${node.name}'s IP and name, the API endpoint, kubernetes.default.svc…)`, 'kube-apiserver-csr.json', 'server', 'ca', {
        ...vars,
        kubernetesServiceIp: plan.kubernetesServiceIp,
        // Clients that go through the endpoint (HAProxy passes TLS through) check the apiserver's cert
        // against the endpoint's address, or its container name on the cluster network; the host's
        // 127.0.0.1 (the published port) is in the request config already.
        apiEndpointIp: plan.apiEndpointIp ? [plan.apiEndpointIp] : [],
        apiEndpointName: plan.apiEndpointIp ? [apiEndpointContainer(config.clusterName)] : [],
        clusterDomain: config.clusterDomain,
      }),
    );
    leaves.push(spec(`etcd-server:${node.name}`, `etcd server cert of ${node.name}`, 'etcd-server-csr.json', 'peer', 'etcd-ca', vars));
    leaves.push(spec(`etcd-peer:${node.name}`, `etcd peer cert of ${node.name}`, 'etcd-peer-csr.json', 'peer', 'etcd-ca', vars));
  }
  // The add-ons' serving certs, while the add-on is on (tasks/addons): the same CA, profile and checks as every other.
  if (config.addons.ingress.enabled) {
    leaves.push(spec('ingress-default', `Ingress controller's default cert (*.${ingressDomain(config)}, the domain and every name under it)`, 'ingress-default-csr.json', 'server', 'ca', { ingressDomain: ingressDomain(config) }));
  }
  if (config.addons['metrics-server'].enabled) {
    leaves.push(spec('metrics-server', 'metrics-server serving cert (its Service names), trusted by the aggregation layer', 'metrics-server-csr.json', 'server', 'ca', { clusterDomain: config.clusterDomain }));
  }
  for (const node of workers(config)) {
    leaves.push(spec(`kubelet:${node.name}`, `kubelet client cert of ${node.name} (system:node:${node.name})`, 'kubelet-csr.json', 'client', 'ca', { node: node.name }));
    leaves.push(spec(`kubelet-serving:${node.name}`, `kubelet serving cert of ${node.name} (SANs name + IP)`, 'kubelet-serving-csr.json', 'server', 'ca', { node: node.name, nodeIp: ipOf(node.name) }));
  }
  return leaves;
}

/** CAs then leaves. */
export function certCatalog(config: ClusterConfig, plan: IpPlan): CertSpec[] {
  return [...caCatalog(config), ...leafCatalog(config, plan)];
}
