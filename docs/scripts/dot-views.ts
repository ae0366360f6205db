// Views of the engine's --graph output for the docs: the graph is parsed back (it is the engine's own,
// regular DOT), then either trimmed to one chapter's targets plus, faded, what they read from earlier
// steps, or collapsed to one box per group for the front page. Whole closures are too big to read.

/** One target of the graph, with its group and the DOT attributes the engine gave it. */
export type DotNode = { name: string; group: string; attrs: string };
export type ParsedGraph = { nodes: Map<string, DotNode>; edges: [string, string][] };

export class DotParseError extends Error {
  hint = 'the docs expect the DOT layout written by lib/engine/dot.ts (one subgraph cluster_<group> per group)';
}

const unquote = (text: string): string => text.replace(/\\(["\\])/g, '$1');
const q = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** Parses the DOT printed by `tasks.ts --graph`. Edges point from a dependency to the target that uses it. */
export function parseEngineDot(dot: string): ParsedGraph {
  const nodes = new Map<string, DotNode>();
  const edges: [string, string][] = [];
  let group: string | null = null;
  for (const line of dot.split('\n')) {
    const sub = /^\s*subgraph "cluster_((?:[^"\\]|\\.)*)" \{\s*$/.exec(line);
    if (sub) {
      group = unquote(sub[1]!);
      continue;
    }
    if (/^\s*\}\s*$/.test(line)) {
      group = null;
      continue;
    }
    const edge = /^\s*"((?:[^"\\]|\\.)*)" -> "((?:[^"\\]|\\.)*)";\s*$/.exec(line);
    if (edge) {
      edges.push([unquote(edge[1]!), unquote(edge[2]!)]);
      continue;
    }
    const node = /^\s*"((?:[^"\\]|\\.)*)" \[(.*)\];\s*$/.exec(line);
    if (node) {
      const name = unquote(node[1]!);
      nodes.set(name, { name, group: group ?? name.split(':')[0]!, attrs: node[2]! });
    }
  }
  if (nodes.size === 0) throw new DotParseError('the --graph output has no target nodes');
  for (const [a, b] of edges) {
    if (!nodes.has(a) || !nodes.has(b)) throw new DotParseError(`edge ${a} -> ${b} names a target with no node line`);
  }
  return { nodes, edges };
}

/** The names a request stands for: the target of that exact name, else every target of that group. */
function membersOf(graph: ParsedGraph, request: string): string[] {
  if (graph.nodes.has(request)) return [request];
  return [...graph.nodes.values()].filter((n) => n.name.split(':')[0] === request).map((n) => n.name);
}

/**
 * The part of a graph that `tasks.ts --graph <requested>` would print: the requested targets and
 * everything they depend on, transitively. Lets one --graph call serve every picture of the site.
 */
export function closureOf(graph: ParsedGraph, requested: string[]): ParsedGraph {
  const depsOf = new Map<string, string[]>();
  for (const [from, to] of graph.edges) depsOf.set(to, [...(depsOf.get(to) ?? []), from]);
  const keep = new Set<string>();
  const stack = requested.flatMap((r) => {
    const members = membersOf(graph, r);
    if (members.length === 0) throw new DotParseError(`the graph has no target or group named ${r}`);
    return members;
  });
  while (stack.length) {
    const name = stack.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    stack.push(...(depsOf.get(name) ?? []));
  }
  const nodes = new Map([...graph.nodes].filter(([name]) => keep.has(name)));
  return { nodes, edges: graph.edges.filter(([a, b]) => keep.has(a) && keep.has(b)) };
}

const HEADER = [
  '  rankdir=LR;',
  '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#ffffff"];',
  '  edge [color="#777777"];',
];

/**
 * The chapter's own targets (names matching `focus`) with their grouping and state colours, plus the
 * targets they depend on directly, drawn faded, so the picture shows where the step's inputs come from.
 */
export function focusView(graph: ParsedGraph, focus: RegExp, title: string): string {
  const kept = new Set([...graph.nodes.keys()].filter((n) => focus.test(n)));
  if (kept.size === 0) throw new DotParseError(`no target of the graph matches ${focus}`);
  const inputs = new Set<string>();
  for (const [from, to] of graph.edges) if (kept.has(to) && !kept.has(from)) inputs.add(from);
  const lines = [`digraph ${q(title)} {`, ...HEADER];
  const groups = new Map<string, DotNode[]>();
  for (const name of [...kept, ...inputs]) {
    const node = graph.nodes.get(name)!;
    groups.set(node.group, [...(groups.get(node.group) ?? []), node]);
  }
  for (const [group, members] of groups) {
    const own = members.some((m) => kept.has(m.name));
    lines.push(`  subgraph ${q(`cluster_${group}`)} {`, `    label=${q(group)};`, `    style="rounded,dashed"; color=${own ? '"#999999"' : '"#dddddd"'}; fontcolor=${own ? '"#000000"' : '"#999999"'};`);
    for (const m of members) {
      if (kept.has(m.name)) lines.push(`    ${q(m.name)} [${m.attrs}];`);
      else lines.push(`    ${q(m.name)} [label=${q(m.name)}, fillcolor="#f6f6f6", color="#bbbbbb", fontcolor="#888888", style="rounded,filled,dashed"];`);
    }
    lines.push('  }');
  }
  for (const [from, to] of graph.edges) {
    if (kept.has(to) && (kept.has(from) || inputs.has(from))) lines.push(`  ${q(from)} -> ${q(to)}${kept.has(from) ? '' : ' [color="#cccccc"]'};`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** The graph as DOT in the engine's own layout: one dashed frame per group, nodes with their attributes. */
export function toDot(graph: ParsedGraph, title: string): string {
  const lines = [`digraph ${q(title)} {`, ...HEADER];
  const groups = new Map<string, DotNode[]>();
  for (const node of graph.nodes.values()) groups.set(node.group, [...(groups.get(node.group) ?? []), node]);
  for (const [group, members] of groups) {
    lines.push(`  subgraph ${q(`cluster_${group}`)} {`, `    label=${q(group)};`, '    style="rounded,dashed"; color="#999999";');
    for (const m of members) lines.push(`    ${q(m.name)} [${m.attrs}];`);
    lines.push('  }');
  }
  for (const [from, to] of graph.edges) lines.push(`  ${q(from)} -> ${q(to)};`);
  lines.push('}');
  return lines.join('\n') + '\n';
}

/** One box per group, labelled with how many targets it holds; an edge where any target of one group feeds another. */
export function groupView(graph: ParsedGraph, title: string): string {
  const counts = new Map<string, number>();
  for (const node of graph.nodes.values()) counts.set(node.group, (counts.get(node.group) ?? 0) + 1);
  const groupEdges = new Set<string>();
  for (const [from, to] of graph.edges) {
    const a = graph.nodes.get(from)!.group;
    const b = graph.nodes.get(to)!.group;
    if (a !== b) groupEdges.add(`${q(a)} -> ${q(b)};`);
  }
  const lines = [`digraph ${q(title)} {`, ...HEADER];
  for (const [group, count] of counts) {
    lines.push(`  ${q(group)} [label=${q(`${group}\n${count} target${count === 1 ? '' : 's'}`)}, fillcolor="#eef3fd"];`);
  }
  for (const e of groupEdges) lines.push(`  ${e}`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
