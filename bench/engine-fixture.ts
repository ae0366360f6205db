// The benchmark graph (bench/engine.ts): chains of targets with fan-in, each reading one source file and
// writing one output file. Run as a CLI project: `node --import tsx bench/engine-fixture.ts all`
// with BENCH_ROOT set; bench/engine.ts also writes the same graph as a Makefile and a build.ninja.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../lib/cli/index.ts';
import { alias, target, type AnyTarget } from '../lib/engine/target.ts';

export type BenchNode = { name: string; src: string; out: string; deps: string[] };

/** `chains` chains of `length` targets; every 10th target also depends on its neighbour in the previous chain. */
export function benchNodes(chains: number, length: number): BenchNode[] {
  const nodes: BenchNode[] = [];
  const id = (c: number, i: number): string => `c${c}_${i}`;
  for (let c = 0; c < chains; c++) {
    for (let i = 0; i < length; i++) {
      const deps: string[] = [];
      if (i > 0) deps.push(id(c, i - 1));
      if (c > 0 && i % 10 === 5) deps.push(id(c - 1, i));
      nodes.push({ name: id(c, i), src: `src/${id(c, i)}.txt`, out: `out/${id(c, i)}.txt`, deps });
    }
  }
  return nodes;
}

/** The nodes as engine targets; each build writes its output file. `files: false` → no files at all. */
export function benchTargets(nodes: BenchNode[], files = true): AnyTarget[] {
  const byName = new Map<string, AnyTarget>();
  for (const node of nodes) {
    const deps: Record<string, AnyTarget> = {};
    for (const dep of node.deps) deps[dep] = byName.get(dep)!;
    byName.set(
      node.name,
      target({
        name: `${node.name.split('_')[0]}:${node.name}`,
        description: `bench ${node.name}`,
        deps,
        inputs: files ? { files: [node.src] } : undefined,
        outputs: files ? [node.out] : undefined,
        build: async (ctx) => {
          if (files) writeFileSync(join(ctx.root, node.out), node.name);
          return node.name;
        },
      }),
    );
  }
  const all = [...byName.values()];
  return [...all, alias('all', 'every bench target', all)];
}

if (process.env.BENCH_ROOT) {
  const chains = Number(process.env.BENCH_CHAINS ?? 100);
  const length = Number(process.env.BENCH_LENGTH ?? 100);
  process.exitCode = await runCli<null>({
    argv: process.argv.slice(2),
    root: process.env.BENCH_ROOT,
    project: { program: 'bench', targets: () => benchTargets(benchNodes(chains, length)) },
  });
}
