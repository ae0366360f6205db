// etcd targets: per control plane its certs, unit file and running unit; then one health check of all members.

import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { controlPlanes } from '../config/config.ts';
import { certSource, nodeTarget, plannedNode, type ClusterContext, type UnitTarget } from './context.ts';
import { NotReadyError } from './errors.ts';
import { etcdPaths, unitPath } from './layout.ts';
import { fileTarget, journalTail, sleep, unitTarget } from './node-targets.ts';
import type { NodeHandle } from '../../lib/node/handle.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { renderEtcdUnit } from './render/etcd.ts';

/** etcdctl arguments that authenticate with the member's own server cert (peer profile: client auth too). */
export function etcdctlArgs(endpoint = 'https://127.0.0.1:2379'): string[] {
  return [etcdPaths.etcdctl, `--endpoints=${endpoint}`, `--cacert=${etcdPaths.ca}`, `--cert=${etcdPaths.serverCert}`, `--key=${etcdPaths.serverKey}`, '--dial-timeout=5s', '--command-timeout=10s'];
}

export function etcdTargets(ctx: ClusterContext) {
  const cps = controlPlanes(ctx.config);
  const members = cps.map((n) => ({ name: n.name, ip: plannedNode(ctx, n.name).ip }));
  const all: AnyTarget[] = [];
  const units: Record<string, UnitTarget> = {};
  for (const member of members) {
    const node = member.name;
    const nt = nodeTarget(ctx, node);
    const file = (id: string, path: string, description: string, source: Parameters<typeof fileTarget>[0]['source'], mode?: number) =>
      fileTarget({ node, nodeTarget: nt, id, path, description, source, ...(mode ? { mode } : {}) });
    const files = {
      ca: file('etcd-ca', etcdPaths.ca, `etcd CA cert on ${node}`, certSource(ctx, 'etcd-ca', 'cert')),
      serverCert: file('etcd-server-cert', etcdPaths.serverCert, `etcd server cert of ${node}`, certSource(ctx, `etcd-server:${node}`, 'cert')),
      serverKey: file('etcd-server-key', etcdPaths.serverKey, `etcd server key of ${node}`, certSource(ctx, `etcd-server:${node}`, 'key'), 0o600),
      peerCert: file('etcd-peer-cert', etcdPaths.peerCert, `etcd peer cert of ${node}`, certSource(ctx, `etcd-peer:${node}`, 'cert')),
      peerKey: file('etcd-peer-key', etcdPaths.peerKey, `etcd peer key of ${node}`, certSource(ctx, `etcd-peer:${node}`, 'key'), 0o600),
      unit: file('etcd-unit', unitPath('etcd'), `etcd unit on ${node}`, {
        text: renderEtcdUnit({ member, members, clusterToken: `${ctx.config.clusterName}-etcd`, arch: process.arch }),
      }),
    };
    // --no-block: with several members, the first one only reports started once a quorum exists.
    const unit = unitTarget({ node, nodeTarget: nt, unit: 'etcd', description: `etcd member on ${node}`, files, noBlock: true });
    units[node] = unit;
    all.push(...Object.values(files), unit);
  }
  const healthy = target({
    name: 'cluster:etcd-healthy',
    description: 'Every etcd member answers `etcdctl endpoint health` over TLS',
    deps: units,
    build: async (bctx) => {
      for (const member of members) {
        const unit = bctx.deps[member.name];
        if (!unit) throw new Error(`cluster: etcd-healthy has no unit of ${member.name}`);
        await waitEtcdHealthy(nodeFleet.of(bctx).node(unit.container), member.name, bctx.signal, bctx.log);
      }
      // The same whatever the members: every apiserver is ordered after this check, and a result naming the
      // members would restart all of them at once when one is added or removed.
      return null;
    },
  });
  all.push(healthy);
  return { units, healthy, all };
}

async function waitEtcdHealthy(host: NodeHandle, node: string, signal: AbortSignal, log: (m: string) => void, timeoutMs = 120_000): Promise<void> {
  const container = host.name;
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    const res = await host.exec([...etcdctlArgs(), 'endpoint', 'health'], { allowFailure: true, readOnly: true });
    last = `${res.stdout.toString('utf8')}${res.stderr.toString('utf8')}`.trim();
    if (res.exitCode === 0) {
      log(`${node}: ${last.split('\n')[0]}`);
      return;
    }
    await sleep(1000, signal);
  }
  const journal = await journalTail(host, 'etcd.service');
  throw new NotReadyError(
    `${node}: etcd is not healthy after ${timeoutMs / 1000} s: ${last.split('\n').slice(-3).join(' | ')}\netcd's last journal lines:\n${journal}`,
    `docker exec ${container} journalctl -u etcd -n 100`,
  );
}
