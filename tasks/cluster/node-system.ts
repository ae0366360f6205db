// Per-node plumbing targets (every node): namespaced sysctls and the routes to other workers' pod CIDRs,
// as enabled oneshot units so they come back by themselves after `docker restart`.

import type { AnyTarget } from '../../lib/engine/target.ts';
import { nodeTarget, type ClusterContext, type UnitTarget } from './context.ts';
import { nodePaths, unitPath } from './layout.ts';
import { fileTarget, unitTarget } from './node-targets.ts';
import { renderRoutesUnit, renderSysctlConf, renderSysctlUnit, type PodRoute } from './render/node-system.ts';

/** Routes a node needs: every worker's pod CIDR except its own, via that worker's IP. */
export function podRoutesFor(ctx: Pick<ClusterContext, 'plan'>, node: string): PodRoute[] {
  return ctx.plan.nodes.filter((n) => n.name !== node && n.podCidr).map((n) => ({ podCidr: n.podCidr!, via: n.ip }));
}

export function nodeSystemTargets(ctx: ClusterContext) {
  const all: AnyTarget[] = [];
  const sysctl: Record<string, UnitTarget> = {};
  const routes: Record<string, UnitTarget> = {};
  for (const planned of ctx.plan.nodes) {
    const node = planned.name;
    const nt = nodeTarget(ctx, node);
    const sysctlFiles = {
      conf: fileTarget({ node, nodeTarget: nt, id: 'sysctl-conf', path: nodePaths.sysctlConf, description: `namespaced sysctls of ${node}`, source: { text: renderSysctlConf() } }),
      unit: fileTarget({ node, nodeTarget: nt, id: 'node-sysctl-unit', path: unitPath('node-sysctl'), description: `sysctl unit of ${node}`, source: { text: renderSysctlUnit() } }),
    };
    sysctl[node] = unitTarget({ node, nodeTarget: nt, unit: 'node-sysctl', description: `apply namespaced sysctls on ${node}`, files: sysctlFiles });
    all.push(...Object.values(sysctlFiles), sysctl[node]!);
    const routesText = renderRoutesUnit(podRoutesFor(ctx, node));
    if (routesText) {
      const unitFile = fileTarget({ node, nodeTarget: nt, id: 'pod-routes-unit', path: unitPath('pod-routes'), description: `pod CIDR routes of ${node}`, source: { text: routesText } });
      routes[node] = unitTarget({ node, nodeTarget: nt, unit: 'pod-routes', description: `routes to other workers' pod CIDRs on ${node}`, files: { unit: unitFile } });
      all.push(unitFile, routes[node]!);
    }
  }
  return { sysctl, routes, all };
}
