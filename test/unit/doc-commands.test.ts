// The tutorial's tested-command markers: every chapter from "nodes" on has one, each parses, and the
// runner rewrites names and judges output correctly (host commands run for real with bash; no cluster).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chapters } from '../../docs/.vitepress/chapters.ts';
import { findMarkedCommands, MarkerError, parseMarker } from '../../docs/.vitepress/check-marker.ts';
import { extractDocCommands, onTestCluster, rewritePattern, runDocCommands, substituteCommand } from '../lib/doc-commands.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const docsDir = join(root, 'docs');

test('every chapter in chapters.ts has a page, and every page is a chapter', () => {
  const pages = readdirSync(docsDir).filter((f) => f.endsWith('.md') && f !== 'index.md' && f !== 'README-section.md');
  for (const c of chapters) assert.ok(existsSync(join(docsDir, `${c.slug}.md`)), `docs/${c.slug}.md is missing`);
  assert.equal(pages.sort(), chapters.map((c) => `${c.slug}.md`).sort());
});

test('every chapter from "nodes" onward has at least one marked command, and every marker parses', () => {
  const commands = extractDocCommands(docsDir); // throws MarkerError on any malformed marker
  const fromNodes = chapters.slice(chapters.findIndex((c) => c.slug === 'nodes'));
  assert.ok(fromNodes.length >= 12);
  for (const chapter of fromNodes) {
    assert.ok(chapter.needsCheckedCommand, `${chapter.slug} should require a checked command`);
    const mine = commands.filter((c) => c.chapter === chapter.slug);
    assert.ok(mine.length >= 1, `docs/${chapter.slug}.md has no marked command`);
  }
  for (const c of commands) {
    assert.ok(c.expect.length >= 1, `${c.file}:${c.line} has no expect`);
    assert.ok(c.script.length > 0);
    // A node of the default cluster, or `api`: the API endpoint's container (harder-api).
    if (c.node) assert.match(c.node, /^((controller|worker)-\d+|api)$/, `${c.file}:${c.line}: node ${c.node} is not a default node`);
    // Commands are written for the default cluster: a container name must use the docs' prefix.
    for (const m of c.script.matchAll(/docker exec(?: -it)? (\S+)/g)) assert.match(m[1]!, /^harder-((controller|worker)-\d+|api)$/);
  }
  assert.ok(commands.length >= 30, `only ${commands.length} marked commands`);
});

test('each marked command runs on exactly one test cluster; the high-availability chapter\'s on the 3-control-plane one', () => {
  const commands = extractDocCommands(docsDir);
  const e2e = commands.filter(onTestCluster('e2e'));
  const ha = commands.filter(onTestCluster('ha'));
  const addons = commands.filter(onTestCluster('addons-ingress'));
  const metallb = commands.filter(onTestCluster('metallb'));
  assert.is(e2e.length + ha.length + addons.length + metallb.length, commands.length);
  assert.equal([...new Set(addons.map((c) => c.chapter))], ['ingress', 'metrics']);
  assert.equal([...new Set(metallb.map((c) => c.chapter))], ['metallb'], 'MetalLB\'s chapter runs on its own test\'s cluster');
  assert.ok(ha.length >= 5, `only ${ha.length} commands for the 3-control-plane cluster`);
  assert.equal([...new Set(ha.map((c) => c.chapter))], ['high-availability']);
  assert.ok(e2e.some((c) => c.chapter === 'etcd') && !e2e.some((c) => c.chapter === 'high-availability'));
});

test('marker parsing: keys, regex with spaces and slashes, errors name the place', () => {
  const spec = parseMarker(' node=worker-1 expect=/Active: active \\(running\\)/ expect=/a\\/b/i reject=/failed/ exit=nonzero retry=30s timeout=5 ');
  assert.equal(spec.node, 'worker-1');
  assert.equal(spec.expect.length, 2);
  assert.ok(spec.expect[0]!.test('Active: active (running) since'));
  assert.ok(spec.expect[1]!.test('A/B'));
  assert.equal(spec.exit, 'nonzero');
  assert.equal(spec.retrySeconds, 30);
  assert.equal(spec.timeoutSeconds, 5);
  const bad: [string, RegExp][] = [
    ['node=worker-1', /at least one expect/],
    ['expect=/x/ colour=red', /unknown key "colour"/],
    ['expect=/(unclosed/', /not a valid regex/],
    ['expect=/no-end', /no closing \//],
    ['expect=/x/ exit=maybe', /exit must be/],
    ['expect=/x/ node=Worker_1', /not a node name/],
  ];
  for (const [body, message] of bad) {
    try {
      parseMarker(body, 'docs/x.md:3');
      assert.unreachable(`accepted: ${body}`);
    } catch (error) {
      assert.instance(error, MarkerError);
      assert.match((error as Error).message, /^docs\/x\.md:3: /);
      assert.match((error as Error).message, message);
    }
  }
});

test('a marker must be followed by a closed, non-empty sh block', () => {
  assert.throws(() => findMarkedCommands('<!-- check: expect=/x/ -->\nplain text\n', 'a.md'), /followed by a ```sh block/);
  assert.throws(() => findMarkedCommands('<!-- check: expect=/x/ -->\n```sh\necho x\n', 'a.md'), /never closed/);
  const found = findMarkedCommands('intro\n\n<!-- check: expect=/x/ -->\n\n```sh\necho one\necho two\n```\n', 'a.md');
  assert.equal(found.length, 1);
  assert.equal(found[0]!.line, 3);
  assert.equal(found[0]!.script, 'echo one\necho two');
});

test('substitution rewrites container names, the kubeconfig and output/ paths, and nothing else', () => {
  const script = "docker exec harder-worker-1 ip route\ndocker inspect harder-controller-1 harder-worker-2\nkubectl --kubeconfig output/kubeconfig/admin.kubeconfig get secret harder-docs-secret\nopenssl x509 -in output/pki/ca.pem";
  const out = substituteCommand(script, { clusterName: 'harder-e2e', kubeconfig: '/tmp/e2e/admin.kubeconfig', outDir: '/tmp/e2e/output' });
  assert.equal(
    out,
    "docker exec harder-e2e-worker-1 ip route\ndocker inspect harder-e2e-controller-1 harder-e2e-worker-2\nkubectl --kubeconfig /tmp/e2e/admin.kubeconfig get secret harder-docs-secret\nopenssl x509 -in /tmp/e2e/output/pki/ca.pem",
  );
  assert.equal(substituteCommand('docker exec harder-worker-1 true', { clusterName: 'harder' }), 'docker exec harder-worker-1 true');
  // The API endpoint's container is the cluster's too; a name that merely starts with it is not.
  assert.equal(substituteCommand('docker ps --filter name=harder-api; kubectl get secret harder-apis', { clusterName: 'harder-e2e' }), 'docker ps --filter name=harder-e2e-api; kubectl get secret harder-apis');
  const moved: [string, string][] = [['10.240.0.', '10.241.0.']];
  assert.equal(substituteCommand('ping -c 1 10.240.0.21', { clusterName: 'x', replacements: moved }), 'ping -c 1 10.241.0.21');
  const re = rewritePattern(/inet 10\.240\.0\.20\/24/m, moved);
  assert.equal(re.source, 'inet 10\\.241\\.0\\.20\\/24');
  assert.equal(re.flags, 'm');
  assert.ok(re.test('inet 10.241.0.20/24'));
  assert.not.ok(re.test('inet 10.240.0.20/24'));
});

test('the runner runs host commands with bash and judges exit codes, expect, reject and retry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'doc-commands-'));
  const marker = join(dir, 'flag');
  writeFileSync(
    join(dir, 'sample.md'),
    [
      '<!-- check: expect=/^hello world$/m -->', '```sh', 'echo hello world | head -1', '```',
      '<!-- check: expect=/nope/ -->', '```sh', 'echo something else', '```',
      '<!-- check: exit=nonzero expect=/denied/ -->', '```sh', 'echo denied >&2; exit 3', '```',
      '<!-- check: expect=/ok/ reject=/secret/ -->', '```sh', 'echo ok secret', '```',
      '<!-- check: expect=/^ready$/m retry=10 -->', '```sh', `if [ -e ${marker} ]; then echo ready; else touch ${marker}; echo not yet; fi`, '```',
      '<!-- check: expect=/x/ timeout=1 -->', '```sh', 'sleep 5; echo x', '```',
    ].join('\n'),
  );
  const lines: string[] = [];
  const report = await runDocCommands({ clusterName: 'unused', docsDir: dir, cwd: dir, log: (l) => lines.push(l) });
  const [hello, mismatch, refused, rejected, retried, slow] = report.outcomes;
  assert.ok(hello!.ok, hello!.problem);
  assert.not.ok(mismatch!.ok);
  assert.match(mismatch!.problem!, /does not match \/nope\//);
  assert.ok(refused!.ok, refused!.problem);
  assert.equal(refused!.exitCode, 3);
  assert.not.ok(rejected!.ok);
  assert.match(rejected!.problem!, /must not/);
  assert.ok(retried!.ok, retried!.problem);
  assert.equal(retried!.attempts, 2);
  assert.not.ok(slow!.ok);
  assert.equal(slow!.problem, 'timed out');
  assert.equal(report.passed, 3);
  assert.equal(report.failed, 3);
  assert.not.ok(report.ok);
  assert.equal(lines.length, 6);
  assert.match(lines[1]!, /^FAIL sample\.md|^FAIL docs\/sample\.md:5/);
});

test.run();
