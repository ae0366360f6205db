// Draws the docs' pictures at build time: each chapter's target graph from `tasks.ts --graph`, the whole
// cluster for the front page, and the hand-drawn DOT diagrams in docs/diagrams/, all as SVG in
// docs/public/graphs/ (git-ignored), so the pictures are redrawn from the code on every docs build.
//
// Usage: npx tsx docs/scripts/graphs.ts [--strict]
//   --strict (implied when CI is set): a chapter whose graph cannot be drawn fails the build instead of
//   getting a placeholder picture.

import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chapters, frontPageGraph } from '../.vitepress/chapters.ts';
import { closureOf, focusView, groupView, parseEngineDot, toDot, type ParsedGraph } from './dot-views.ts';
import { countSvgNodes, renderDot } from './render-dot.ts';

const docsDir = resolve(fileURLToPath(import.meta.url), '../..');
const root = resolve(docsDir, '..');
const outDir = join(docsDir, 'public', 'graphs');

/** What one picture came out as; written to manifest.json for the browser test. */
export type GraphRecord = { name: string; source: string; nodes: number; placeholder: boolean; note?: string };

export class GraphError extends Error {
  hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'GraphError';
    this.hint = hint;
  }
}

/**
 * Keeps the requested names that the project defines (a target name, or a group with at least one
 * target), so a chapter written ahead of its code still builds. Returns the kept and the unknown names.
 */
export function knownNames(requested: string[], targetNames: string[]): { known: string[]; unknown: string[] } {
  const names = new Set(targetNames);
  const groups = new Set(targetNames.map((n) => (n.includes(':') ? n.slice(0, n.indexOf(':')) : n)));
  const known = requested.filter((r) => names.has(r) || groups.has(r));
  return { known, unknown: requested.filter((r) => !known.includes(r)) };
}

/**
 * The names of every target the CLI registers, read from the same function the CLI calls: for the default
 * cluster and for one with every add-on on (off by default; their chapters draw from a spec that switches them on).
 */
async function projectTargetNames(): Promise<string[]> {
  const { projectTargets } = await import('../../tasks/index.ts');
  const { defaultConfig } = await import('../../tasks/config/config.ts');
  const { ADDON_NAMES } = await import('../../tasks/addons/spec.ts');
  const addons = JSON.parse(JSON.stringify(defaultConfig.addons)) as typeof defaultConfig.addons;
  for (const name of ADDON_NAMES) addons[name].enabled = true;
  const names = [...projectTargets(defaultConfig), ...projectTargets({ ...defaultConfig, addons })].map((t: { name: string }) => t.name);
  return [...new Set(names)];
}

/**
 * A throwaway project root that shares everything of `projectRoot` but its state: each entry is linked,
 * except `output/` (absent) and `tasks.ts` (copied: its directory is the root the CLI uses). The CLI finds
 * no record there, so it decides every target without a probe: no Docker, no cluster, nothing local.
 */
export async function statelessRoot(projectRoot: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'harder-docs-graph-'));
  for (const entry of await readdir(projectRoot)) {
    if (entry === 'output' || entry === 'tasks.ts' || entry === '.git') continue;
    await symlink(join(projectRoot, entry), join(dir, entry));
  }
  await copyFile(join(projectRoot, 'tasks.ts'), join(dir, 'tasks.ts'));
  return dir;
}

/**
 * Runs `tasks.ts --graph <targets>` and returns its DOT output. The graph is drawn as for a fresh checkout
 * (every target "never built"), from a root without `output/`: the pictures do not depend on this
 * machine's cluster, and the docs build never talks to Docker (`--graph` probes recorded targets).
 */
export async function graphFromCli(projectRoot: string, targets: string[], flags: string[] = []): Promise<string> {
  const scratch = await statelessRoot(projectRoot);
  try {
    return await cliGraph(scratch, targets, flags);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

function cliGraph(cwd: string, targets: string[], flags: string[]): Promise<string> {
  const shown = [...targets, ...flags].join(' ');
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'tasks.ts', '--graph', ...targets, ...flags],
      { cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, CI: '1', NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        if (error) {
          const detail = (stderr || error.message).trim().split('\n').slice(0, 5).join(' | ');
          reject(new GraphError(`tasks.ts --graph ${shown} failed: ${detail}`, 'run the same command by hand from the project root'));
          return;
        }
        if (!/^\s*(strict\s+)?digraph\b/m.test(stdout)) {
          reject(new GraphError(`tasks.ts --graph ${shown} printed no DOT digraph`, 'the CLI must print Graphviz DOT on stdout for --graph'));
          return;
        }
        resolvePromise(stdout);
      },
    );
  });
}

/** A picture that says why the real one is missing; it has no graph nodes, so the browser test notices. */
export function placeholderSvg(message: string): string {
  const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const lines = escaped.match(/.{1,90}(\s|$)/g) ?? [escaped];
  const text = lines.map((line, i) => `<text x="12" y="${28 + i * 18}" font-family="sans-serif" font-size="13">${line.trim()}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="${40 + lines.length * 18}" data-placeholder="true"><rect width="100%" height="100%" fill="#fff4e5" stroke="#e0a040"/>${text}</svg>\n`;
}

/** How a picture is derived from the --graph output. */
type View = { kind: 'closure' } | { kind: 'focus'; focus: RegExp } | { kind: 'groups' };

/** The DOT for one view of the requested targets, cut from the graph of everything the site draws. */
export function viewDot(whole: ParsedGraph, requested: string[], view: View, title: string): string {
  const part = closureOf(whole, requested);
  if (view.kind === 'closure') return toDot(part, title);
  return view.kind === 'focus' ? focusView(part, view.focus, title) : groupView(part, title);
}

type Picture = { name: string; requested: string[]; view: View; flags: string[] };

/**
 * Draws every picture from ONE `tasks.ts --graph` call over all requested names per set of size flags
 * (one CLI start-up and dry run instead of one per chapter; the default cluster's pictures share one).
 * Each picture is then the closure of its own request, exactly what a separate --graph call would print.
 */
async function drawAll(pictures: Picture[], allNames: string[], strict: boolean): Promise<GraphRecord[]> {
  const wholes = new Map<string, Promise<ParsedGraph>>();
  const wholeFor = (flags: string[]): Promise<ParsedGraph> => {
    const id = flags.join(' ');
    let whole = wholes.get(id);
    if (!whole) {
      const everything = [...new Set(pictures.filter((p) => p.flags.join(' ') === id).flatMap((p) => p.requested))];
      const { known } = knownNames(everything, allNames);
      whole = known.length === 0
        ? Promise.reject(new GraphError('none of the names the docs draw exists', 'fix the names in docs/.vitepress/chapters.ts'))
        : graphFromCli(root, known, flags).then(parseEngineDot);
      whole.catch(() => undefined);
      wholes.set(id, whole);
    }
    return whole;
  };
  const records: GraphRecord[] = [];
  for (const picture of pictures) {
    const { known: mine, unknown } = knownNames(picture.requested, allNames);
    const source = `tasks.ts --graph ${[...picture.requested, ...picture.flags].join(' ')}${picture.view.kind === 'focus' ? ` (focus ${picture.view.focus.source})` : picture.view.kind === 'groups' ? ' (by group)' : ''}`;
    try {
      const whole = await wholeFor(picture.flags);
      if (mine.length === 0) throw new GraphError(`no target or group named ${unknown.join(', ')} exists yet`, 'fix the names in docs/.vitepress/chapters.ts');
      const svg = await renderDot(viewDot(whole, mine, picture.view, picture.name), source);
      await writeFile(join(outDir, `${picture.name}.svg`), svg);
      const note = unknown.length ? `not drawn (unknown): ${unknown.join(', ')}` : undefined;
      if (note) console.warn(`graphs: ${picture.name}: ${note}`);
      records.push({ name: picture.name, source, nodes: countSvgNodes(svg), placeholder: false, ...(note ? { note } : {}) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (strict) throw error;
      console.warn(`graphs: ${picture.name}: placeholder picture: ${message}`);
      await writeFile(join(outDir, `${picture.name}.svg`), placeholderSvg(`Graph not available yet: ${message}`));
      records.push({ name: picture.name, source, nodes: 0, placeholder: true, note: message });
    }
  }
  return records;
}

/** Renders every DOT file of `dir` to `<outDir>/diagram-<name>.svg`. These are hand-written, so errors always fail. */
export async function drawDiagrams(dir: string, target: string): Promise<GraphRecord[]> {
  const records: GraphRecord[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.dot')).sort()) {
    const name = `diagram-${file.replace(/\.dot$/, '')}`;
    const svg = await renderDot(await readFile(join(dir, file), 'utf8'), `docs/diagrams/${file}`);
    await writeFile(join(target, `${name}.svg`), svg);
    records.push({ name, source: `docs/diagrams/${file}`, nodes: countSvgNodes(svg), placeholder: false });
  }
  return records;
}

async function main(): Promise<void> {
  const strict = process.argv.includes('--strict') || Boolean(process.env.CI);
  const started = Date.now();
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const allNames = await projectTargetNames();
  const records: GraphRecord[] = [];
  const pictures: Picture[] = [
    { name: frontPageGraph.name, requested: frontPageGraph.request, view: { kind: 'groups' }, flags: [] },
    { name: frontPageGraph.fullName, requested: frontPageGraph.request, view: { kind: 'closure' }, flags: [] },
  ];
  for (const chapter of chapters) {
    if (!chapter.graph) continue;
    const view: View = chapter.graph.focus ? { kind: 'focus', focus: new RegExp(chapter.graph.focus) } : { kind: 'closure' };
    pictures.push({ name: chapter.slug, requested: chapter.graph.request, view, flags: chapter.graph.flags ?? [] });
  }
  records.push(...(await drawAll(pictures, allNames, strict)));
  records.push(...(await drawDiagrams(join(docsDir, 'diagrams'), outDir)));
  await writeFile(join(outDir, 'manifest.json'), JSON.stringify(records, null, 2) + '\n');
  const placeholders = records.filter((r) => r.placeholder).length;
  console.log(`graphs: ${records.length} pictures in ${Date.now() - started} ms (${placeholders} placeholders) → docs/public/graphs/`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    const err = error as Error & { hint?: string };
    console.error(`graphs: ${err.message}${err.hint ? `\n  hint: ${err.hint}` : ''}`);
    process.exit(1);
  });
}
