// The etcd unit: one member per control-plane node, TLS for clients and peers, mutual authentication on both.
// How a member first joins (the initial cluster and its state) is not in the unit: etcd reads it only when
// its data directory is empty, and it differs between the members of a fresh cluster (state `new`, every
// member) and a member added to a running one (state `existing`, the members at the time plus itself).
// The membership target (`etcd:<node>:member`, tasks/cluster/etcd.ts) writes it to an environment file before the first start,
// so the unit, and every running member, stays the same when members come and go.

import { etcdPaths } from '../layout.ts';
import { renderUnit } from './systemd.ts';

export type EtcdMember = { name: string; ip: string };

export type EtcdUnitParams = {
  /** This member. */
  member: EtcdMember;
  /** Distinguishes this cluster's members from another cluster's on the same network. */
  clusterToken: string;
};

export function etcdClientUrl(ip: string): string {
  return `https://${ip}:2379`;
}

export function etcdPeerUrl(ip: string): string {
  return `https://${ip}:2380`;
}

/** A member's own client URL on its node (in its server cert's SANs): where the apiserver beside it connects. */
export const LOCAL_ETCD_URL = 'https://127.0.0.1:2379';

/** How a member starts the first time: with the cluster being created, or joining a running one. */
export type EtcdBootstrap = { state: 'new' | 'existing'; initialCluster: EtcdMember[] };

/**
 * The environment file the unit reads (etcd takes ETCD_<FLAG> for --<flag>): the initial cluster and its
 * state. Ignored by etcd once the member has a data directory.
 */
export function renderEtcdBootstrapEnv(b: EtcdBootstrap): string {
  return [
    '# How this member joined its etcd cluster; read by etcd only while its data directory is empty.',
    `ETCD_INITIAL_CLUSTER=${b.initialCluster.map((m) => `${m.name}=${etcdPeerUrl(m.ip)}`).join(',')}`,
    `ETCD_INITIAL_CLUSTER_STATE=${b.state}`,
    '',
  ].join('\n');
}

export function renderEtcdUnit(p: EtcdUnitParams): string {
  const { member } = p;
  const service: Record<string, string | number | string[]> = {
    // etcd tells systemd when it has joined the cluster, so "active" means serving.
    Type: 'notify',
    Restart: 'on-failure',
    RestartSec: 5,
    // With several members the first one waits for quorum before it notifies; give the others time.
    TimeoutStartSec: 300,
    LimitNOFILE: 65536,
    // Written by the membership target before the first start; `-`: a member that has its data needs none.
    EnvironmentFile: `-${etcdPaths.bootstrapEnv}`,
  };
  return renderUnit({
    description: `etcd member ${member.name}`,
    documentation: 'https://etcd.io/docs/v3.6/op-guide/configuration/',
    after: ['network-online.target'],
    wants: ['network-online.target'],
    service,
    exec: {
      path: etcdPaths.etcd,
      flags: {
        name: member.name,
        'data-dir': etcdPaths.dataDir,
        'cert-file': etcdPaths.serverCert,
        'key-file': etcdPaths.serverKey,
        'trusted-ca-file': etcdPaths.ca,
        'client-cert-auth': true,
        'peer-cert-file': etcdPaths.peerCert,
        'peer-key-file': etcdPaths.peerKey,
        'peer-trusted-ca-file': etcdPaths.ca,
        'peer-client-cert-auth': true,
        'listen-client-urls': [etcdClientUrl(member.ip), 'https://127.0.0.1:2379'],
        'advertise-client-urls': etcdClientUrl(member.ip),
        'listen-peer-urls': etcdPeerUrl(member.ip),
        'initial-advertise-peer-urls': etcdPeerUrl(member.ip),
        'initial-cluster-token': p.clusterToken,
        logger: 'zap',
        'log-level': 'info',
      },
    },
  });
}
