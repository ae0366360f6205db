// The docs' picture pipeline and link checker, without a build: DOT in the engine's layout → views →
// SVG through @viz-js/viz (real Graphviz), and the checker on a small hand-made built site.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSite, pageIds, pageLinks } from '../../docs/scripts/check-links.ts';
import { closureOf, focusView, groupView, parseEngineDot, toDot, DotParseError } from '../../docs/scripts/dot-views.ts';
import { knownNames, placeholderSvg } from '../../docs/scripts/graphs.ts';
import { countSvgNodes, DotRenderError, renderDot } from '../../docs/scripts/render-dot.ts';

// The layout lib/engine/dot.ts prints: one subgraph per group, node lines, then dependency → dependent edges.
const SAMPLE = `digraph "targets" {
  rankdir=LR;
  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, fillcolor="#ffffff"];
  edge [color="#777777"];
  subgraph "cluster_net" {
    label="net";
    style="rounded,dashed"; color="#999999";
    "net:plan" [label="net:plan", tooltip="Plan every address (up to date)", fillcolor="#b7e1a1"];
  }
  subgraph "cluster_certs" {
    label="certs";
    style="rounded,dashed"; color="#999999";
    "certs:ca" [label="certs:ca", tooltip="Cluster CA (never built)", fillcolor="#e6e6e6"];
    "certs:kube-apiserver" [label="certs:kube-apiserver", tooltip="say \\"hi\\" (stale)", fillcolor="#ffd58a"];
  }
  subgraph "cluster_kubeconfig" {
    label="kubeconfig";
    style="rounded,dashed"; color="#999999";
    "kubeconfig:admin" [label="kubeconfig:admin", tooltip="admin (never built)", fillcolor="#e6e6e6"];
  }
  "net:plan" -> "certs:kube-apiserver";
  "certs:ca" -> "certs:kube-apiserver";
  "certs:ca" -> "kubeconfig:admin";
  "net:plan" -> "kubeconfig:admin";
}
`;

test('the hand-written sample renders to an SVG with one graph node per target', async () => {
  const svg = await renderDot(SAMPLE, 'sample');
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
  const g = parseEngineDot(SAMPLE);
  assert.equal([...g.nodes.keys()], ['net:plan', 'certs:ca', 'certs:kube-apiserver', 'kubeconfig:admin']);
  assert.is(g.nodes.get('certs:ca')!.group, 'certs');
  assert.is(g.edges.length, 4);
  assert.throws(() => parseEngineDot('digraph x {\n}\n'), (e: unknown) => e instanceof DotParseError);
  assert.throws(() => parseEngineDot('digraph x {\n  "a" [label="a"];\n  "a" -> "b";\n}\n'), /names a target with no node line/);
});

test('focus view: own targets in full, direct inputs faded, unrelated targets dropped', async () => {
  const dot = focusView(parseEngineDot(SAMPLE), /^kubeconfig:/, 'kubeconfigs');
  assert.match(dot, /"kubeconfig:admin" \[label="kubeconfig:admin", tooltip="admin \(never built\)"/);
  assert.match(dot, /"certs:ca" \[label="certs:ca", fillcolor="#f6f6f6"/);
  assert.not.match(dot, /certs:kube-apiserver/);
  assert.match(dot, /"net:plan" -> "kubeconfig:admin" \[color="#cccccc"\]/);
  assert.is(countSvgNodes(await renderDot(dot, 'focus')), 3);
  assert.throws(() => focusView(parseEngineDot(SAMPLE), /^nothing:/, 'x'), /no target of the graph matches/);
});

test('group view: one box per group with its count, edges between groups once', async () => {
  const dot = groupView(parseEngineDot(SAMPLE), 'cluster');
  assert.match(dot, /"certs" \[label="certs\\n2 targets"/);
  assert.match(dot, /"net" \[label="net\\n1 target"/);
  assert.is((dot.match(/"net" -> "certs"/g) ?? []).length, 1);
  assert.not.match(dot, /"certs" -> "certs"/);
  assert.is(countSvgNodes(await renderDot(dot, 'groups')), 3);
});

test('closureOf cuts what a separate --graph call would print: the request and its dependencies', async () => {
  const whole = parseEngineDot(SAMPLE);
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
