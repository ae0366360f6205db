// The docs' picture pipeline and link checker, without a build: the engine's DOT (graphDot on a small
// fixture graph) → views → SVG through @viz-js/viz (real Graphviz), and the checker on a small hand-made
// built site.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSite, pageIds, pageLinks } from '../../docs/scripts/check-links.ts';
import { closureOf, focusView, groupView, parseEngineDot, toDot, DotParseError } from '../../docs/scripts/dot-views.ts';
import { knownNames, placeholderSvg } from '../../docs/scripts/graphs.ts';
import { countSvgNodes, DotRenderError, renderDot } from '../../docs/scripts/render-dot.ts';
import { graphDot, type NodeState } from '../../lib/engine/index.ts';
import { target } from '../../lib/engine/target.ts';

// A small graph of four targets in three groups, drawn by the engine's own --graph printer (graphDot):
// the docs' pipeline is tested on what the engine really prints, not on a copy of its layout.
const noBuild = async () => null;
const plan = target({ name: 'net:plan', description: 'Plan every address', deps: {}, build: noBuild });
const ca = target({ name: 'certs:ca', description: 'Cluster CA', deps: {}, build: noBuild });
const apiserver = target({ name: 'certs:kube-apiserver', description: 'say "hi"', deps: { plan, ca }, build: noBuild });
const admin = target({ name: 'kubeconfig:admin', description: 'admin', deps: { ca, plan }, build: noBuild });
const TARGETS = [plan, ca, apiserver, admin];
/** What the fixture declares, independently of any DOT: every target, and each dependency → dependent. */
const NAMES = ['certs:ca', 'certs:kube-apiserver', 'kubeconfig:admin', 'net:plan'];
const EDGES = [['certs:ca', 'certs:kube-apiserver'], ['certs:ca', 'kubeconfig:admin'], ['net:plan', 'certs:kube-apiserver'], ['net:plan', 'kubeconfig:admin']];
const STATES: Record<string, NodeState> = { 'net:plan': 'up-to-date', 'certs:ca': 'never-built', 'certs:kube-apiserver': 'stale', 'kubeconfig:admin': 'never-built' };
const ENGINE_DOT = graphDot(TARGETS, ['certs', 'kubeconfig:admin'], STATES);

/** Edges in a fixed order (DOT lists them in the closure's order, which the fixture does not fix). */
const sortedEdges = (edges: [string, string][]) => [...edges].sort();

test("the engine's --graph output renders to an SVG with one graph node per target", async () => {
  const svg = await renderDot(ENGINE_DOT, 'sample');
  assert.match(svg, /^<\?xml|<svg/);
  assert.is(countSvgNodes(svg), 4);
  assert.match(svg, /certs:kube(-|&#45;)apiserver/); // Graphviz writes "-" as &#45;
});

test('bad DOT and empty graphs are refused with the source named', async () => {
  try {
    await renderDot('digraph { a -> ', 'docs/diagrams/broken.dot');
    assert.unreachable();
  } catch (error) {
    assert.instance(error, DotRenderError);
    assert.match((error as Error).message, /^docs\/diagrams\/broken\.dot: Graphviz could not render/);
  }
  await renderDot('digraph { }', 'empty').then(
    () => assert.unreachable(),
    (error: Error) => assert.match(error.message, /has no nodes/),
  );
  assert.is(countSvgNodes(placeholderSvg('no graph')), 0);
});

test('parsing the engine DOT: nodes with groups, edges, quoting', () => {
  const g = parseEngineDot(ENGINE_DOT);
  assert.equal([...g.nodes.keys()].sort(), NAMES);
  for (const name of NAMES) assert.is(g.nodes.get(name)!.group, name.split(':')[0], name);
  assert.equal(sortedEdges(g.edges), EDGES);
  assert.match(g.nodes.get('certs:kube-apiserver')!.attrs, /tooltip="say \\"hi\\" \(stale\)"/);
  assert.throws(() => parseEngineDot('digraph x {\n}\n'), (e: unknown) => e instanceof DotParseError);
  assert.throws(() => parseEngineDot('digraph x {\n  "a" [label="a"];\n  "a" -> "b";\n}\n'), /names a target with no node line/);
});

test('focus view: own targets in full, direct inputs faded, unrelated targets dropped', async () => {
  const dot = focusView(parseEngineDot(ENGINE_DOT), /^kubeconfig:/, 'kubeconfigs');
  assert.match(dot, /"kubeconfig:admin" \[label="kubeconfig:admin", tooltip="admin \(never built\)"/);
  assert.match(dot, /"certs:ca" \[label="certs:ca", fillcolor="#f6f6f6"/);
  assert.not.match(dot, /certs:kube-apiserver/);
  assert.match(dot, /"net:plan" -> "kubeconfig:admin" \[color="#cccccc"\]/);
  assert.is(countSvgNodes(await renderDot(dot, 'focus')), 3);
  assert.throws(() => focusView(parseEngineDot(ENGINE_DOT), /^nothing:/, 'x'), /no target of the graph matches/);
});

test('group view: one box per group with its count, edges between groups once', async () => {
  const dot = groupView(parseEngineDot(ENGINE_DOT), 'cluster');
  assert.match(dot, /"certs" \[label="certs\\n2 targets"/);
  assert.match(dot, /"net" \[label="net\\n1 target"/);
  assert.is((dot.match(/"net" -> "certs"/g) ?? []).length, 1);
  assert.not.match(dot, /"certs" -> "certs"/);
  assert.is(countSvgNodes(await renderDot(dot, 'groups')), 3);
});

test('closureOf cuts what a separate --graph call would print: the request and its dependencies', async () => {
  const whole = parseEngineDot(ENGINE_DOT);
  const admin = closureOf(whole, ['kubeconfig:admin']);
  assert.equal([...admin.nodes.keys()].sort(), ['certs:ca', 'kubeconfig:admin', 'net:plan']);
  assert.is(admin.edges.length, 2);
  const certs = closureOf(whole, ['certs']); // a group: all its members, plus what they need
  assert.equal([...certs.nodes.keys()].sort(), ['certs:ca', 'certs:kube-apiserver', 'net:plan']);
  assert.throws(() => closureOf(whole, ['etcd']), /no target or group named etcd/);
  // Round trip: the engine layout printed back parses to the same graph and renders.
  const again = parseEngineDot(toDot(admin, 'admin'));
  assert.equal([...again.nodes.values()], [...admin.nodes.values()]);
  assert.equal(again.edges, admin.edges);
  assert.is(countSvgNodes(await renderDot(toDot(admin, 'admin'), 'round trip')), 3);
});

test('knownNames keeps exact names and groups, reports the rest', () => {
  assert.equal(knownNames(['certs', 'net:plan', 'etcd', 'cluster:smoke'], ['net:plan', 'certs:ca', 'cluster']), { known: ['certs', 'net:plan'], unknown: ['etcd', 'cluster:smoke'] });
});

test('the link checker finds missing pages, files and anchors, and ignores external links and script bodies', async () => {
  const dist = mkdtempSync(join(tmpdir(), 'docs-links-'));
  mkdirSync(join(dist, 'graphs'));
  writeFileSync(join(dist, 'graphs', 'a.svg'), '<svg/>');
  writeFileSync(join(dist, 'index.html'), '<h1 id="top">x</h1><a href="./page.html#part">ok</a><a href="/page.html#nope">bad anchor</a><img src="/graphs/a.svg"><img src="/graphs/missing.svg"><a href="https://example.org/x">ext</a><a href="#top">self</a><script>var x = {"href":"/gone.html"}</script>');
  writeFileSync(join(dist, 'page.html'), '<h2 id="part">p</h2><a href="./">home</a><a href="./other">missing page</a>');
  assert.equal(pageIds('<a id="a&amp;b" name="n">'), new Set(['a&b', 'n']));
  assert.equal(pageLinks('<a href="mailto:x@y">m</a><a href="/x?y=1&amp;z=2">q</a><script src="/s.js"></script>'), ['/x?y=1&z=2', '/s.js']);
  const problems = await checkSite(dist, '/');
  assert.equal(problems.map((p) => `${p.page} ${p.link}`).sort(), ['/index.html /graphs/missing.svg', '/index.html /page.html#nope', '/page.html ./other'].sort());
  const based = await checkSite(dist, '/harder/');
  assert.ok(based.some((p) => p.problem.includes('outside the base path /harder/')));
});

test.run();
