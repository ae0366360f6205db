// --graph: the requested closure as Graphviz DOT, one `subgraph cluster_<group>` per group, nodes
// coloured by state (up to date / stale / never built). The docs render it to SVG.

import { groupOf, type AnyTarget } from './target.ts';
import { buildGraph, closure, membersOf, ORDER_ONLY } from './graph.ts';

export type NodeState = 'up-to-date' | 'stale' | 'never-built' | 'alias';

/** Fill colours by state; also printed as the legend. */
export const STATE_COLOURS: Record<NodeState, string> = {
  'up-to-date': '#b7e1a1',
  stale: '#ffd58a',
  'never-built': '#e6e6e6',
  alias: '#ffffff',
};

const q = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The states of the closure's targets, from a dry run (nothing is built or written). */
export async function graphStates(opts: { targets: readonly AnyTarget[]; requested: readonly string[]; root: string; outDir?: string }): Promise<Record<string, NodeState>> {
  // The executor loads here, not with this module: graphDot alone (and the engine's index) stays cheap.
  const { runBuild } = await import('./executor.ts');
  const report = await runBuild({ ...opts, dryRun: true });
  const states: Record<string, NodeState> = {};
  for (const [name, entry] of Object.entries(report.entries)) {
    if (entry.alias) states[name] = 'alias';
    else if (entry.outcome === 'up-to-date') states[name] = 'up-to-date';
    else if (entry.reason === 'never built') states[name] = 'never-built';
    else states[name] = 'stale';
  }
  return states;
}

/** DOT text for the closure of `requested`. `states` colours the nodes (see graphStates). */
export function graphDot(targets: readonly AnyTarget[], requested: readonly string[], states: Record<string, NodeState> = {}, title = 'targets'): string {
  const graph = buildGraph(targets);
  const names = closure(graph, requested.flatMap((r) => membersOf(graph, r) ?? []));
  const byGroup = new Map<string, string[]>();
  for (const name of names) {
    const group = groupOf(name);
    byGroup.set(group, [...(byGroup.get(group) ?? []), name]);
  }
  const lines = [
    `digraph ${q(title)} {`,
    '  rankdir=LR;',
    '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#ffffff"];',
    '  edge [color="#777777"];',
  ];
  for (const [group, members] of byGroup) {
    lines.push(`  subgraph ${q(`cluster_${group}`)} {`, `    label=${q(group)};`, '    style="rounded,dashed"; color="#999999";');
    for (const name of members) {
      const t = graph.byName.get(name)!;
      const state = states[name] ?? (t.build ? 'never-built' : 'alias');
      const style = t.build ? '' : ', style="rounded,dashed"';
      lines.push(`    ${q(name)} [label=${q(name)}, tooltip=${q(`${t.description} (${state.replaceAll('-', ' ')})`)}, fillcolor=${q(STATE_COLOURS[state])}${style}];`);
    }
    lines.push('  }');
  }
  // An order-only edge is dashed: it orders, the key does not read it.
  for (const name of names) for (const [alias, dep] of graph.deps.get(name)!) lines.push(`  ${q(dep)} -> ${q(name)}${alias.startsWith(ORDER_ONLY) ? ' [style=dashed]' : ''};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
