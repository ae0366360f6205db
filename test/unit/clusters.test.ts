// Several clusters in one checkout (issue 12, `--name`): a name's state directory, the node subnet allocation
// (the Docker networks given as data, not asked of an engine), the recorded allocation, the up-front refusal
// of an overlapping subnet, and that every file a named cluster's targets write lands in its own directory.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocateSubnet, baseOfStateDir, clusterOf, clusterStateDir, recordedClusters, stateDirUnder, subnetClashes, type NetworkFacts } from '../../tasks/config/clusters.ts';
import { configureCluster, recordSpec, stateDirFor } from '../../tasks/config/spec.ts';
import type { ClusterConfig } from '../../tasks/config/config.ts';
import { ConfigError, OptionError } from '../../lib/errors.ts';
import { projectTargets } from '../../tasks/index.ts';
import { kubeconfigPath } from '../../tasks/certs/kubeconfig.ts';

const roots: string[] = [];
function tempRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'harder-clusters-'));
  roots.push(dir);
  return dir;
}
test.after(() => roots.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The default cluster up on 10.240.0.0/24 and an unrelated network on 10.240.1.0/24. */
const busy: NetworkFacts[] = [
  { name: 'harder', subnets: ['10.240.0.0/24'], cluster: 'harder' },
  { name: 'someone-elses', subnets: ['10.240.1.0/24'] },
  { name: 'bridge', subnets: ['172.17.0.0/16'] },
];

type Configured = { config: ClusterConfig; warnings: string[]; said: string[] };

async function configure(root: string, flags: Record<string, string>, networks: NetworkFacts[] | undefined, opts: { dryRun?: boolean } = {}): Promise<Configured> {
  const warnings: string[] = [];
  const said: string[] = [];
  const base = join(root, 'output');
  const outDir = await stateDirFor(flags, base, { root, cwd: root });
  const config = await configureCluster(flags, root, { cwd: root, warn: (l) => warnings.push(l), outDir, networks: async () => networks });
  await recordSpec(config, { outDir, dryRun: !!opts.dryRun, explain: false, say: (l) => said.push(l) });
  return { config, warnings, said };
}

const record = (root: string, name: string): { allocated?: { nodeSubnet: string }; spec: ClusterConfig } =>
  JSON.parse(readFileSync(join(root, 'output', 'clusters', name, 'spec.json'), 'utf8'));

test('the default cluster keeps output/; any other name gets output/clusters/<name>/, and back', () => {
  assert.is(clusterStateDir('harder', 'harder'), 'output');
  assert.is(clusterStateDir('b', 'harder'), 'output/clusters/b');
  assert.is(stateDirUnder('/p/output', 'harder', 'harder'), '/p/output');
  assert.is(stateDirUnder('/p/output', 'b', 'harder'), '/p/output/clusters/b');
  assert.is(baseOfStateDir('/p/output/clusters/b', 'b', 'harder'), '/p/output');
  assert.is(baseOfStateDir('/p/output', 'harder', 'harder'), '/p/output');
  // A spec file may name the default cluster otherwise: then that name is the one in output/.
  assert.is(clusterStateDir('demo', 'demo'), 'output');
  assert.is(clusterStateDir('harder', 'demo'), 'output/clusters/harder');
  assert.equal(clusterOf({ clusterName: 'b', stateDir: 'output/clusters/b' }), { name: 'b', stateDir: 'output/clusters/b' });
  assert.equal(clusterOf({ clusterName: 'harder' }), { name: 'harder', stateDir: 'output' });
});

test('allocation: the first /24 of 10.240.0.0/16 clear of every reserved range; a free preferred one wins; none when all are taken', () => {
  const reserved = [
    { subnet: '10.240.0.0/24', what: 'default' },
    { subnet: '10.240.1.0/24', what: 'a network' },
  ];
  assert.is(allocateSubnet(reserved), '10.240.2.0/24');
  // A larger range blocks every /24 inside it: 10.240.2.0/23 covers .2 and .3.
  assert.is(allocateSubnet([...reserved, { subnet: '10.240.2.0/23', what: 'a /23' }]), '10.240.4.0/24');
  // A range that contains the pool's start (10.0.0.0/8 holds all of it) leaves nothing.
  assert.is(allocateSubnet([{ subnet: '10.0.0.0/8', what: 'everything' }]), undefined);
  assert.is(allocateSubnet([{ subnet: '10.240.0.0/16', what: 'the pool' }]), undefined);
  // The cluster's own network (its record lost) is kept when it is free, else the first free one is taken.
  assert.is(allocateSubnet(reserved, '10.240.7.0/24'), '10.240.7.0/24');
  assert.is(allocateSubnet(reserved, '10.240.1.0/24'), '10.240.2.0/24');
  // Not one of the pool's /24s: not kept.
  assert.is(allocateSubnet(reserved, '192.168.5.0/24'), '10.240.2.0/24');
  // Garbage among the reserved ranges (a network without IPv4) is ignored, not fatal.
  assert.is(allocateSubnet([{ subnet: 'fd00::/64', what: 'v6' }]), '10.240.0.0/24');
});

test('subnetClashes names the other cluster by its label, or the bare network; its own network is no clash', () => {
  const networks: NetworkFacts[] = [
    { name: 'harder-a', subnets: ['10.240.2.0/24'], cluster: 'harder-a' },
    { name: 'plain', subnets: ['10.240.0.0/16'] },
    { name: 'harder-b', subnets: ['10.240.2.0/24'], cluster: 'harder-b' },
  ];
  assert.equal(subnetClashes('10.240.2.0/24', networks, 'harder-b'), ['cluster harder-a (its Docker network harder-a has 10.240.2.0/24)', 'Docker network plain (10.240.0.0/16)']);
  assert.equal(subnetClashes('10.250.0.0/24', networks, 'harder-b'), []);
});

test('recordedClusters reads every other cluster\'s spec.json under output/, the default\'s included', () => {
  const root = tempRoot();
  const put = (dir: string, subnet: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'spec.json'), JSON.stringify({ format: 1, flags: {}, spec: { nodeSubnet: subnet } }));
  };
  put(join(root, 'output'), '10.240.0.0/24');
  put(join(root, 'output', 'clusters', 'a'), '10.240.5.0/24');
  put(join(root, 'output', 'clusters', 'b'), '10.240.6.0/24');
  mkdirSync(join(root, 'output', 'clusters', 'empty'), { recursive: true });
  assert.equal(recordedClusters(join(root, 'output'), 'harder', 'b'), [
    { name: 'harder', nodeSubnet: '10.240.0.0/24', where: 'output/spec.json' },
    { name: 'a', nodeSubnet: '10.240.5.0/24', where: 'output/clusters/a/spec.json' },
  ]);
});

test('--name b: its own state dir and a free subnet, recorded on the first run and kept after, whatever appears later', async () => {
  const root = tempRoot();
  const first = await configure(root, { name: 'b' }, busy);
  assert.is(first.config.clusterName, 'b');
  assert.is(first.config.stateDir, 'output/clusters/b');
  // 10.240.0.0/24 is the default cluster's, 10.240.1.0/24 someone else's network.
  assert.is(first.config.nodeSubnet, '10.240.2.0/24');
  // Its API endpoint's host port follows the subnet: the default cluster (10.240.0.0/24) keeps 6443.
  assert.is(first.config.apiHostPort, 6445);
  assert.ok(first.said.some((l) => l.includes('nodeSubnet 10.240.2.0/24 allocated to cluster b') && l.includes('recorded in output/clusters/b/spec.json')), first.said.join('\n'));
  assert.equal(record(root, 'b').allocated, { nodeSubnet: '10.240.2.0/24' });
  assert.is(record(root, 'b').spec.nodeSubnet, '10.240.2.0/24');
  assert.not.ok('stateDir' in record(root, 'b').spec, 'the record holds the spec, not where it is kept');
  assert.not.ok(existsSync(join(root, 'output', 'spec.json')), 'the default cluster\'s record is not written');
  // Later: b's network is up and 10.240.1.0/24 is free again, so a fresh allocation would now pick it. Nothing moves.
  const later = await configure(root, { name: 'b' }, [...busy.filter((n) => n.name !== 'someone-elses'), { name: 'b', subnets: ['10.240.2.0/24'], cluster: 'b' }]);
  assert.is(later.config.nodeSubnet, '10.240.2.0/24');
  assert.equal(later.said, [], 'nothing new to say or record');
  // Someone else's cluster took b's recorded subnet meanwhile: refused, not moved behind b's back.
  const taken = await configure(root, { name: 'b' }, [...busy, { name: 'x', subnets: ['10.240.2.0/24'], cluster: 'x' }]).then(() => undefined, (e: unknown) => e);
  assert.instance(taken, ConfigError);
  assert.match((taken as ConfigError).problems[0]!, /^output\/clusters\/b\/spec\.json: allocated nodeSubnet: 10\.240\.2\.0\/24 of cluster b overlaps cluster x /);
  // --reset forgets recorded flags, not the allocation.
  const reset = await configure(root, { name: 'b', reset: 'true' }, busy);
  assert.is(reset.config.nodeSubnet, '10.240.2.0/24');
  assert.equal(record(root, 'b').allocated, { nodeSubnet: '10.240.2.0/24' });
});

test('a second named cluster skips the first one\'s recorded subnet even while its network is down; a dry run records nothing', async () => {
  const root = tempRoot();
  await configure(root, { name: 'b' }, busy);
  const dry = await configure(root, { name: 'c' }, busy, { dryRun: true });
  assert.is(dry.config.nodeSubnet, '10.240.3.0/24');
  assert.is(dry.config.apiHostPort, 6446);
  assert.ok(dry.said.some((l) => l.includes('would be recorded') && l.includes('dry run: nothing recorded')), dry.said.join('\n'));
  assert.not.ok(existsSync(join(root, 'output', 'clusters', 'c')), 'a dry run writes nothing');
  const real = await configure(root, { name: 'c' }, busy);
  assert.is(real.config.nodeSubnet, '10.240.3.0/24');
});

test('no Docker engine: allocated against the recorded clusters only, and the run says so', async () => {
  const root = tempRoot();
  const { config, warnings } = await configure(root, { name: 'b' }, undefined);
  // Only the default cluster's nodeSubnet (10.240.0.0/24) is known to be taken.
  assert.is(config.nodeSubnet, '10.240.1.0/24');
  assert.ok(warnings.some((w) => w.includes('no Docker engine answered') && w.includes('10.240.1.0/24')), warnings.join('\n'));
});

test('an explicit nodeSubnet overlapping another cluster\'s Docker network is refused up front, naming the file, the field and the other cluster', async () => {
  const root = tempRoot();
  writeFileSync(join(root, 'overlap.json'), JSON.stringify({ nodeSubnet: '10.240.0.0/24' }));
  const error = await configure(root, { name: 'b', config: 'overlap.json' }, busy).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(error, ConfigError);
  const [line, ...more] = (error as ConfigError).problems;
  assert.is(more.length, 0, 'one message');
  assert.match(line!, /^overlap\.json: nodeSubnet: 10\.240\.0\.0\/24 of cluster b overlaps cluster harder \(its Docker network harder has 10\.240\.0\.0\/24\)/);
  assert.not.ok(existsSync(join(root, 'output', 'clusters', 'b', 'spec.json')), 'nothing recorded');
  // The same explicit subnet where nothing else uses it is taken as given: no allocation.
  const free = await configure(root, { name: 'b', config: 'overlap.json' }, []);
  assert.is(free.config.nodeSubnet, '10.240.0.0/24');
});

test('a bad --name is refused before any state directory is chosen', async () => {
  const root = tempRoot();
  for (const name of ['../x', 'Upper', '', 'a'.repeat(64)]) {
    const error = await stateDirFor({ name }, join(root, 'output'), { root, cwd: root }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(error, OptionError, name);
    assert.match((error as OptionError).message, '--name');
  }
});

test('the default cluster: output/, the spec\'s nodeSubnet, no allocation, and --name of its own name is the same cluster', async () => {
  const root = tempRoot();
  const plain = await configure(root, {}, busy);
  assert.is(plain.config.stateDir, undefined);
  assert.is(plain.config.nodeSubnet, '10.240.0.0/24');
  const named = await configure(root, { name: 'harder' }, busy);
  assert.is(named.config.stateDir, undefined);
  assert.is(await stateDirFor({ name: 'harder' }, join(root, 'output'), { root, cwd: root }), join(root, 'output'));
});

test('every file a named cluster\'s targets write is inside its own state directory', async () => {
  const root = tempRoot();
  const { config } = await configure(root, { name: 'b' }, busy);
  const outputs = projectTargets(config).flatMap((t) => t.outputs ?? []);
  assert.ok(outputs.length > 20, `${outputs.length} outputs`);
  assert.equal(outputs.filter((o) => !o.startsWith('output/clusters/b/')), []);
  assert.is(kubeconfigPath(config, 'admin'), 'output/clusters/b/kubeconfig/admin.kubeconfig');
  // The default cluster's stay where the docs say.
  const { config: defaults } = await configure(root, {}, busy);
  const defaultOutputs = projectTargets(defaults).flatMap((t) => t.outputs ?? []);
  assert.equal(defaultOutputs.filter((o) => o.startsWith('output/clusters/')), []);
  assert.ok(defaultOutputs.includes('output/pki/ca.crt') && defaultOutputs.includes('output/kubeconfig/admin.kubeconfig'));
});

test.run();
