// The etcd unit: one member per control-plane node, TLS for clients and peers, mutual authentication on both.

import { etcdPaths } from '../layout.ts';
import { renderUnit } from './systemd.ts';

export type EtcdMember = { name: string; ip: string };

export type EtcdUnitParams = {
  /** This member. */
  member: EtcdMember;
  /** Every member, this one included, in a stable order (the initial cluster). */
  members: EtcdMember[];
  /** Distinguishes this cluster's members from another cluster's on the same network. */
  clusterToken: string;
  /** Host architecture (process.arch); etcd 3.4 refuses to start on arm64 without an opt-in. */
  arch?: string;
};

export function etcdClientUrl(ip: string): string {
  return `https://${ip}:2379`;
}

/** A member's own client URL on its node (in its server cert's SANs): where the apiserver beside it connects. */
export const LOCAL_ETCD_URL = 'https://127.0.0.1:2379';

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
  };
  if (p.arch === 'arm64') service.Environment = 'ETCD_UNSUPPORTED_ARCH=arm64';
  return renderUnit({
    description: `etcd member ${member.name}`,
    documentation: 'https://etcd.io/docs/v3.4/op-guide/configuration/',
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
        'listen-peer-urls': `https://${member.ip}:2380`,
        'initial-advertise-peer-urls': `https://${member.ip}:2380`,
        'initial-cluster': p.members.map((m) => `${m.name}=https://${m.ip}:2380`),
        'initial-cluster-token': p.clusterToken,
        'initial-cluster-state': 'new',
        logger: 'zap',
        'log-level': 'info',
      },
    },
  });
}
