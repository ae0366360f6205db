// Units and config of the control plane: kube-apiserver, kube-controller-manager, kube-scheduler.

import type { Json } from '../../../lib/engine/target.ts';
import { binDir, controlPlanePaths as cp } from '../layout.ts';
import { renderUnit } from './systemd.ts';
import { toYaml } from './yaml.ts';

export type ApiServerParams = {
  advertiseAddress: string;
  port: number;
  /** The etcd client URLs the apiserver talks to (its own node's member: tasks/cluster/control-plane.ts). */
  etcdServers: string[];
  serviceCidr: string;
  /** The service-account token issuer (also the OIDC discovery URL). */
  serviceAccountIssuer: string;
  /** Set when the front-proxy CA and client cert exist: enables the aggregation layer's request headers. */
  frontProxy?: { allowedNames: string[] };
};

const restart = { Restart: 'on-failure', RestartSec: 5 } as const;

export function renderApiServerUnit(p: ApiServerParams): string {
  const frontProxy = p.frontProxy
    ? {
        'requestheader-client-ca-file': cp.frontProxyCa,
        'requestheader-allowed-names': p.frontProxy.allowedNames,
        'requestheader-extra-headers-prefix': 'X-Remote-Extra-',
        'requestheader-group-headers': 'X-Remote-Group',
        'requestheader-username-headers': 'X-Remote-User',
        'proxy-client-cert-file': cp.frontProxyClientCert,
        'proxy-client-key-file': cp.frontProxyClientKey,
      }
    : {};
  return renderUnit({
    description: 'Kubernetes API Server',
    documentation: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/',
    // Every control plane runs an etcd member, the one its apiserver talks to: at boot (`docker restart`)
    // the apiserver starts after it instead of crash-looping until it answers. Wants, not Requires:
    // stopping etcd leaves the apiserver running (not ready, so the endpoint skips it) until the member is back.
    after: ['network.target', 'etcd.service'],
    wants: ['etcd.service'],
    // The apiserver drains open connections (watches, exec streams) for up to 60 s on SIGTERM; a restart
    // for a changed flag should not wait that long.
    service: { ...restart, TimeoutStopSec: 10 },
    exec: {
      path: `${binDir}/kube-apiserver`,
      flags: {
        'advertise-address': p.advertiseAddress,
        'allow-privileged': true,
        'authorization-mode': ['Node', 'RBAC'],
        'bind-address': '0.0.0.0',
        'secure-port': p.port,
        'client-ca-file': cp.ca,
        'enable-admission-plugins': ['NamespaceLifecycle', 'NodeRestriction', 'LimitRanger', 'ServiceAccount', 'DefaultStorageClass', 'ResourceQuota'],
        'encryption-provider-config': cp.encryptionConfig,
        'etcd-servers': p.etcdServers,
        'etcd-cafile': cp.etcdCa,
        'etcd-certfile': cp.etcdClientCert,
        'etcd-keyfile': cp.etcdClientKey,
        // Webhooks, CRD conversion webhooks and aggregated APIs are Services; without this the apiserver dials
        // their ClusterIP, which only kube-proxy's rules resolve, and no kube-proxy runs on a control plane.
        // With it, it dials an endpoint's pod IP, which the control plane reaches through its pod routes.
        'enable-aggregator-routing': true,
        'event-ttl': '1h',
        'kubelet-certificate-authority': cp.ca,
        'kubelet-client-certificate': cp.kubeletClientCert,
        'kubelet-client-key': cp.kubeletClientKey,
        // Node names are not resolvable between nodes; the InternalIP (kubelet --node-ip) always is.
        'kubelet-preferred-address-types': ['InternalIP', 'Hostname'],
        'service-account-issuer': p.serviceAccountIssuer,
        'service-account-key-file': cp.serviceAccountPub,
        'service-account-signing-key-file': cp.serviceAccountKey,
        // Must match the first address in the apiserver certificate's SANs (the `kubernetes` Service IP).
        'service-cluster-ip-range': p.serviceCidr,
        'service-node-port-range': '30000-32767',
        'tls-cert-file': cp.apiserverCert,
        'tls-private-key-file': cp.apiserverKey,
        ...frontProxy,
        v: 2,
      },
    },
  });
}

export type ControllerManagerParams = {
  clusterName: string;
  clusterCidr: string;
  serviceCidr: string;
};

export function renderControllerManagerUnit(p: ControllerManagerParams): string {
  return renderUnit({
    description: 'Kubernetes Controller Manager',
    documentation: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/',
    // The apiserver runs on the same node: at boot this starts after it (ordering only, never restarted with it).
    after: ['network.target', 'kube-apiserver.service'],
    wants: ['kube-apiserver.service'],
    service: { ...restart },
    exec: {
      path: `${binDir}/kube-controller-manager`,
      flags: {
        'bind-address': '0.0.0.0',
        // Pod CIDRs are planned per worker (tasks/net/ip-plan.ts) and written into each worker's CNI config;
        // letting the controller-manager allocate its own would give Node.spec.podCIDR values that disagree.
        'allocate-node-cidrs': false,
        'cluster-cidr': p.clusterCidr,
        'cluster-name': p.clusterName,
        'cluster-signing-cert-file': cp.ca,
        'cluster-signing-key-file': cp.caKey,
        kubeconfig: cp.controllerManagerKubeconfig,
        'authentication-kubeconfig': cp.controllerManagerKubeconfig,
        'authorization-kubeconfig': cp.controllerManagerKubeconfig,
        'leader-elect': true,
        'root-ca-file': cp.ca,
        'service-account-private-key-file': cp.serviceAccountKey,
        'service-cluster-ip-range': p.serviceCidr,
        'use-service-account-credentials': true,
        v: 2,
      },
    },
  });
}

export function renderSchedulerConfig(): string {
  const config: Json = {
    apiVersion: 'kubescheduler.config.k8s.io/v1',
    kind: 'KubeSchedulerConfiguration',
    clientConnection: { kubeconfig: cp.schedulerKubeconfig },
    leaderElection: { leaderElect: true },
  };
  return toYaml(config);
}

export function renderSchedulerUnit(): string {
  return renderUnit({
    description: 'Kubernetes Scheduler',
    documentation: 'https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/',
    // The apiserver runs on the same node: at boot this starts after it (ordering only, never restarted with it).
    after: ['network.target', 'kube-apiserver.service'],
    wants: ['kube-apiserver.service'],
    service: { ...restart },
    exec: {
      path: `${binDir}/kube-scheduler`,
      flags: {
        config: cp.schedulerConfig,
        'authentication-kubeconfig': cp.schedulerKubeconfig,
        'authorization-kubeconfig': cp.schedulerKubeconfig,
        v: 2,
      },
    },
  });
}
