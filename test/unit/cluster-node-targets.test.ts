// The cluster's node targets (tasks/cluster/node-targets.ts: install of a file or a binary, a running
// unit) and their probes, run by the real engine against recording fake nodes (lib/node/fake.ts) handed
// in through the nodes run resource: what was written and with which mode, which units restarted, what a
// probe reports for a changed hash, a replaced binary or a stopped unit, and that a no-op run makes
// exactly one batched read per node and writes nothing.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { provide, runBuild, type BuildReport } from '../../lib/engine/index.ts';
import { alias, target, type AnyTarget } from '../../lib/engine/target.ts';
import { FakeNode, fakeFleet, type FakeUnit } from '../../lib/node/fake.ts';
import type { BinaryResult } from '../../tasks/binaries/index.ts';
import { binaryTarget, fileTarget, unitTarget } from '../../tasks/cluster/node-targets.ts';
import type { NodeContainer } from '../../tasks/nodes/containers.ts';
import { nodeFleet } from '../../tasks/nodes/node-fleet.ts';
import { tempProject, write } from '../fixtures/engine/helpers.ts';

const KUBELET = '/usr/local/bin/kubelet';
const CONF = '/etc/harder/svc.conf';
const KEY = '/etc/harder/svc.key';
const UNIT_FILE = '/etc/systemd/system/svc.service';

/** Two nodes, each with a rendered config, a key copied from a file another target writes (0600), the kubelet binary and unit `svc` reading them. */
function project(root: string) {
  write(root, 'cache/kubelet', 'ELF kubelet v1.34');
  const binary = target({
    name: 'bin:kubelet',
    description: 'a cached binary',
    deps: {},
    build: async (): Promise<BinaryResult> => ({ name: 'kubelet', version: 'v1.34.0', source: 'dir', path: 'cache/kubelet', sha256: sha('ELF kubelet v1.34') }),
  });
  const key = target({
    name: 'certs:svc-key',
    description: 'a private key file',
    deps: {},
    outputs: ['out/svc.key'],
    build: async (ctx) => {
      write(ctx.root, 'out/svc.key', 'PRIVATE KEY');
      return 'out/svc.key';
    },
  });
  const all: AnyTarget[] = [binary, key];
  const units: AnyTarget[] = [];
  for (const name of ['n1', 'n2']) {
    const nodeTarget = target({
      name: `node:${name}`,
      description: `fake node ${name}`,
      deps: {},
      build: async (): Promise<NodeContainer> => ({ name, container: `c-${name}`, id: `id-${name}`, ip: '10.0.0.1', role: 'worker', image: 'node', key: 'k' }),
    });
    const files = {
      conf: fileTarget({ node: name, nodeTarget, id: 'svc-conf', path: CONF, description: 'config', source: { text: `node=${name}\n` }, values: { node: name } }),
      key: fileTarget({ node: name, nodeTarget, id: 'svc-key', path: KEY, mode: 0o600, description: 'key', source: { file: 'out/svc.key', from: key } }),
      unit: fileTarget({ node: name, nodeTarget, id: 'svc-unit', path: UNIT_FILE, description: 'unit file', source: { text: '[Service]\nExecStart=/usr/local/bin/kubelet\n' } }),
      kubelet: binaryTarget(name, nodeTarget, binary, 'kubelet', KUBELET),
    };
    const unit = unitTarget({ node: name, nodeTarget, unit: 'svc', description: `svc on ${name}`, files });
    all.push(nodeTarget, ...Object.values(files), unit);
    units.push(unit);
  }
  const cluster = alias('cluster', 'everything', units);
  return [...all, cluster];
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** Fake nodes whose `svc` is a oneshot (no 1.5 s stability wait), as they would be before the first run. */
function fakeNodes(): { n1: FakeNode; n2: FakeNode } {
  const make = (name: string) => {
    const node = new FakeNode(`c-${name}`);
    node.units.set('svc', { active: 'inactive', sub: 'dead', enabled: '', job: false, type: 'oneshot' });
    return node;
  };
  return { n1: make('n1'), n2: make('n2') };
}

/** One run of `requested` against the fake nodes, with a fleet of its own (as each CLI run has). */
async function run(root: string, targets: AnyTarget[], nodes: { n1: FakeNode; n2: FakeNode }, extra: { dryRun?: boolean; requested?: string[] } = {}): Promise<BuildReport> {
  return runBuild({ targets, requested: extra.requested ?? ['cluster'], root, jobs: 4, dryRun: extra.dryRun, resources: [provide(nodeFleet, fakeFleet([nodes.n1, nodes.n2], targets))] });
}

function assertOk(report: BuildReport): void {
  assert.ok(report.ok, report.failures.map((f) => `${f.target}: ${f.message}`).join('\n'));
}

const outcome = (report: BuildReport, name: string) => `${report.entries[name]?.outcome}: ${report.entries[name]?.reason}`;
const built = (report: BuildReport) => Object.keys(report.entries).filter((n) => report.entries[n]!.outcome === 'built' && !n.startsWith('node:')).sort();

/** A project built once, and its fake nodes as that left them. */
async function builtProject() {
  const root = tempProject('node-targets');
  const targets = project(root);
  const nodes = fakeNodes();
  assertOk(await run(root, targets, nodes));
  return { root, targets, nodes, counts: (node: FakeNode) => ({ reads: node.stateReads.length, writes: node.writes.length, mutating: node.mutatingExecs().length, restarts: node.restarted.length }) };
}

test('first run: each file written with its content and mode, the binary 0755, the unit enabled and restarted once after its files', async () => {
  const { nodes } = await builtProject();
  for (const [name, node] of Object.entries(nodes)) {
    const writes = Object.fromEntries(node.writes.map((w) => [w.path, { mode: w.mode.toString(8), content: w.content.toString('utf8') }]));
    assert.equal(writes, {
      [CONF]: { mode: '644', content: `node=${name}\n` },
      [KEY]: { mode: '600', content: 'PRIVATE KEY' },
      [UNIT_FILE]: { mode: '644', content: '[Service]\nExecStart=/usr/local/bin/kubelet\n' },
      [KUBELET]: { mode: '755', content: 'ELF kubelet v1.34' },
    });
    assert.is(node.writes.length, 4, 'each file once');
    assert.equal(node.restarted, ['svc']);
    assert.equal(node.mutatingExecs(), [
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--quiet', 'svc.service'],
      ['systemctl', 'reset-failed', 'svc.service'],
      ['systemctl', 'restart', 'svc.service'],
    ]);
    const unit = node.units.get('svc')!;
    assert.equal([unit.active, unit.enabled], ['active', 'enabled']);
  }
});

test('a no-op run: everything up to date, exactly one batched read per node (asking for every declared file, binary and unit), no write', async () => {
  const { root, targets, nodes, counts } = await builtProject();
  const before = { n1: counts(nodes.n1), n2: counts(nodes.n2) };
  // Declaring a target has no side effect: one that is made but not registered is not read.
  const stray = target({ name: 'node:n1', description: 'unregistered', deps: {}, build: async (): Promise<NodeContainer> => ({ name: 'n1', container: 'c-n1', id: 'x', ip: '', role: 'worker', image: '', key: '' }) });
  fileTarget({ node: 'n1', nodeTarget: stray, id: 'stray', path: '/etc/stray', description: 'not registered', source: { text: 'x' } });
  const report = await run(root, targets, nodes);
  assertOk(report);
  assert.equal(built(report), []);
  for (const [name, node] of Object.entries(nodes)) {
    const was = before[name as 'n1' | 'n2'];
    assert.equal(counts(node), { ...was, reads: was.reads + 1 }, `${name}: one read, nothing else`);
    assert.equal(node.stateReads.at(-1), { files: [CONF, KEY, UNIT_FILE], binaries: [KUBELET], units: ['svc'] });
  }
});

test('a file changed on the node: its probe says so, only it is rewritten (same mode); the same result restarts no unit; the next probe read afresh', async () => {
  const { root, targets, nodes, counts } = await builtProject();
  nodes.n1.files.set(KEY, { content: Buffer.from('edited by hand'), mode: 0o644, mtime: 1 });
  const before = counts(nodes.n1);
  const report = await run(root, targets, nodes);
  assertOk(report);
  assert.is(outcome(report, 'install:n1:svc-key'), `built: probe: ${KEY} on n1 was changed`);
  assert.equal(built(report), ['install:n1:svc-key']);
  assert.equal(nodes.n1.writes.at(-1)!.path, KEY);
  assert.is(nodes.n1.writes.at(-1)!.mode, 0o600);
  assert.is(nodes.n1.text(KEY), 'PRIVATE KEY');
  assert.is(counts(nodes.n1).restarts, before.restarts, 'early cutoff: the unit is not restarted');
  // The unit's early probe shared the first read; the rewrite dropped it, so its probe after the rebuilt dependency read again.
  assert.is(counts(nodes.n1).reads, before.reads + 2);
  assert.is(outcome(report, 'unit:n1:svc'), 'up-to-date: up to date');
});

test('a missing file and a replaced binary: reported by the probe, put back; the reinstalled binary (a new stamp) restarts its unit', async () => {
  const { root, targets, nodes } = await builtProject();
  nodes.n2.files.delete(CONF);
  const installed = nodes.n2.files.get(KUBELET)!;
  const installedStamp = `${installed.content.length} ${installed.mtime}`;
  nodes.n2.files.set(KUBELET, { ...installed, mtime: installed.mtime + 60 });
  const report = await run(root, targets, nodes);
  assertOk(report);
  assert.is(outcome(report, 'install:n2:svc-conf'), `built: probe: ${CONF} is missing on n2`);
  assert.is(outcome(report, 'install:n2:kubelet'), `built: probe: ${KUBELET} on n2 was replaced (size/mtime ${installed.content.length} ${installed.mtime + 60}, installed ${installedStamp})`);
  assert.equal(built(report), ['install:n2:kubelet', 'install:n2:svc-conf', 'unit:n2:svc']);
  assert.equal(nodes.n2.restarted, ['svc', 'svc']);
  assert.is(nodes.n2.text(CONF), 'node=n2\n');
  assert.equal(nodes.n1.writes.length, 4, 'the other node untouched');
});

test('a stopped unit: its probe reports it, the build restarts only that unit; a dry run says so and changes nothing', async () => {
  const { root, targets, nodes, counts } = await builtProject();
  Object.assign(nodes.n2.units.get('svc')!, { active: 'inactive', sub: 'dead' } satisfies Partial<FakeUnit>);
  const before = { n1: counts(nodes.n1), n2: counts(nodes.n2) };
  const dry = await run(root, targets, nodes, { dryRun: true });
  assert.is(outcome(dry, 'unit:n2:svc'), 'would-build: probe: svc on n2 is inactive (dead)');
  assert.equal({ ...counts(nodes.n2), reads: 0 }, { ...before.n2, reads: 0 }, 'a dry run only reads');
  const report = await run(root, targets, nodes);
  assertOk(report);
  assert.is(outcome(report, 'unit:n2:svc'), 'built: probe: svc on n2 is inactive (dead)');
  assert.equal(built(report), ['unit:n2:svc']);
  assert.equal(nodes.n2.restarted, ['svc', 'svc']);
  assert.equal(nodes.n1.restarted, ['svc']);
  assert.is(nodes.n2.units.get('svc')!.active, 'active');
});

test('a unit that fails to start: the build fails naming its state, with its journal', async () => {
  const root = tempProject('node-targets');
  const targets = project(root);
  const nodes = fakeNodes();
  nodes.n1.onRestart = (_unit, state) => Object.assign(state, { active: 'failed', sub: 'failed', journal: ['svc: bad flag --nope'] });
  const report = await run(root, targets, nodes);
  assert.is(report.ok, false);
  const failure = report.failures.find((f) => f.target === 'unit:n1:svc')!;
  assert.ok(failure, 'unit:n1:svc failed');
  assert.match(failure.message, /^n1: svc\.service is failed \(failed\); its last journal lines:\nsvc: bad flag --nope/);
  assert.match(failure.hint ?? '', /docker exec c-n1 journalctl -u svc\.service/);
});

test('a unit runs after the units it names in `after`, which a request for it alone brings into the run', async () => {
  const root = tempProject('node-targets-after');
  const nodeTarget = target({
    name: 'node:n1',
    description: 'fake node n1',
    deps: {},
    build: async (): Promise<NodeContainer> => ({ name: 'n1', container: 'c-n1', id: 'id-n1', ip: '10.0.0.1', role: 'worker', image: 'node', key: 'k' }),
  });
  const runtimeFile = fileTarget({ node: 'n1', nodeTarget, id: 'runtime-unit', path: '/etc/systemd/system/runtime.service', description: 'unit file', source: { text: '[Service]\n' } });
  const runtime = unitTarget({ node: 'n1', nodeTarget, unit: 'runtime', description: 'runtime on n1', files: { unit: runtimeFile } });
  const agentFile = fileTarget({ node: 'n1', nodeTarget, id: 'agent-unit', path: '/etc/systemd/system/agent.service', description: 'unit file', source: { text: '[Service]\n' } });
  const agent = unitTarget({ node: 'n1', nodeTarget, unit: 'agent', description: 'agent on n1', files: { unit: agentFile }, after: { runtime } });
  const targets = [nodeTarget, runtimeFile, runtime, agentFile, agent];
  const node = new FakeNode('c-n1');
  for (const u of ['runtime', 'agent']) node.units.set(u, { active: 'inactive', sub: 'dead', enabled: '', job: false, type: 'oneshot' });
  const report = await runBuild({ targets, requested: ['unit:n1:agent'], root, jobs: 4, resources: [provide(nodeFleet, fakeFleet([node], targets))] });
  assertOk(report);
  assert.equal(node.restarted, ['runtime', 'agent'], 'the unit it runs after first, then the unit');
});

test.run();
