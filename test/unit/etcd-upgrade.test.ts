// etcd's version (tasks/cluster/upgrade/etcd.ts, tasks/binaries/etcd.ts): the release a spec runs, what the
// records say each control plane runs (Debian's 3.4.23 for a cluster made before etcd was built from its
// module), etcd's rule of one minor at a time with the refusal naming the step in between, and the plan line.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Json } from '../../lib/engine/target.ts';
import { checkConfigFields, defaultConfig, etcdVersionOf } from '../../tasks/config/config.ts';
import { DEBIAN_ETCD_VERSION, etcdPlanLines, etcdSkewRefusal, runningEtcd } from '../../tasks/cluster/upgrade/etcd.ts';
import { etcdSkewRefusalLine } from '../../tasks/cluster/upgrade/index.ts';
import { etcdVersionCheck } from '../../tasks/binaries/etcd.ts';
import { projectTargets } from '../../tasks/index.ts';
import { defaultNodes } from '../../tasks/config/config.ts';

const records = (entries: Record<string, Json>) => ({ names: () => Object.keys(entries), result: (n: string) => entries[n] });
const unit = (cp: string): Json => ({ node: cp, container: `harder-${cp}`, unit: 'etcd' });
const installed = (cp: string, sha256: string): Json => ({ node: cp, container: `harder-${cp}`, path: '/usr/local/bin/etcd', sha256, mode: 493, stamp: '1 2' });

test('the etcd release: kubeadm\'s minor for the Kubernetes minor (1.33: 3.5, 1.34: 3.6) unless the spec pins one', () => {
  assert.is(etcdVersionOf({ etcdVersion: 'auto', kubernetesVersion: 'v1.34.4' }).slice(0, 5), 'v3.6.');
  assert.is(etcdVersionOf({ etcdVersion: 'auto', kubernetesVersion: 'v1.33.13' }).slice(0, 5), 'v3.5.');
  assert.is(etcdVersionOf({ etcdVersion: 'v3.5.36', kubernetesVersion: 'v1.34.4' }), 'v3.5.36');
  assert.is(defaultConfig.etcdVersion, 'auto');
  const problems = (etcdVersion: string) => checkConfigFields({ ...defaultConfig, etcdVersion }).errors.filter((p) => p.field === 'etcdVersion');
  assert.equal(problems('v3.6.17'), []);
  for (const bad of ['3.6.17', 'v3.6', 'latest', 'v2.3.8']) assert.is(problems(bad).length, 1, bad);
});

test('what each control plane runs: from its install record (the built binary, else the binary cache); Debian\'s 3.4.23 for an etcd unit with no install', () => {
  const cache = mkdtempSync(join(tmpdir(), 'harder-etcd-cache-'));
  try {
    // The cache keeps a record per version built: v3.5.36 was built once, the run's bin:etcd is v3.6.17.
    mkdirSync(join(cache, 'v3.5.36', 'go'), { recursive: true });
    writeFileSync(join(cache, 'v3.5.36', 'go', 'etcd.json'), JSON.stringify({ name: 'etcd', version: 'v3.5.36', source: 'go', sha256: 'sha-3.5.36' }));
    const journal = records({
      'unit:controller-1:etcd': unit('controller-1'),
      'install:controller-1:etcd': installed('controller-1', 'sha-3.6.17'),
      'unit:controller-2:etcd': unit('controller-2'),
      'install:controller-2:etcd': installed('controller-2', 'sha-3.5.36'),
      'unit:controller-3:etcd': unit('controller-3'),
      'install:controller-4:etcd': installed('controller-4', 'sha-3.6.17'),
      'install:controller-5:etcd': installed('controller-5', 'sha-unknown'),
      'unit:controller-5:etcd': unit('controller-5'),
      'bin:etcd:etcd': { name: 'etcd', version: 'v3.6.17', source: 'go', path: '/c/etcd', sha256: 'sha-3.6.17' },
    });
    // controller-4 has no unit (never started): not running etcd; controller-5's binary is unknown: left out.
    assert.equal(runningEtcd(journal, cache), { 'controller-1': 'v3.6.17', 'controller-2': 'v3.5.36', 'controller-3': DEBIAN_ETCD_VERSION });
    assert.is(DEBIAN_ETCD_VERSION, 'v3.4.23');
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('one minor at a time: 3.4 → 3.6 is refused naming 3.5 and a release of it; 3.4 → 3.5, patches and finishing a half-way upgrade are allowed; no downgrade across minors', () => {
  assert.is(etcdSkewRefusal([], 'v3.6.17'), undefined);
  assert.is(etcdSkewRefusal(['v3.4.23'], 'v3.5.36'), undefined);
  assert.is(etcdSkewRefusal(['v3.5.36', 'v3.5.36'], 'v3.6.17'), undefined);
  assert.is(etcdSkewRefusal(['v3.6.17'], 'v3.6.4'), undefined);
  assert.is(etcdSkewRefusal(['v3.5.36', 'v3.6.17'], 'v3.6.17'), undefined);
  const skip = etcdSkewRefusal(['v3.4.23', 'v3.4.23'], 'v3.6.17');
  assert.match(skip!.problem, 'skips v3.5');
  assert.match(skip!.problem, 'run etcd v3.4.23');
  assert.match(skip!.valid, '"etcdVersion": "v3.5.36"');
  assert.match(etcdSkewRefusal(['v3.6.17'], 'v3.5.36')!.problem, 'downgrade across minors');
  // Half-way (one member moved to 3.5): going on to 3.6 would put the other two minors apart.
  assert.match(etcdSkewRefusal(['v3.4.23', 'v3.5.36'], 'v3.6.17')!.problem, 'skips v3.5');
});

test('the refusal line names the spec file, the setting as written and the release it resolves to', () => {
  const journal = records({ 'unit:controller-1:etcd': unit('controller-1') });
  const line = etcdSkewRefusalLine('v3.6.17', 'auto', journal, 'harder.config.ts');
  assert.ok(line?.startsWith('harder.config.ts: etcdVersion: auto (v3.6.17 for its kubernetesVersion): etcd v3.6.17 skips v3.5'), line);
  assert.is(etcdSkewRefusalLine('v3.5.36', 'v3.5.36', journal, 'harder.config.ts'), undefined);
});

test('the plan line lists the members that move, in spec order, and nothing when all run the release', () => {
  const running = { 'controller-2': 'v3.5.36', 'controller-1': 'v3.5.36', 'controller-3': 'v3.6.17' };
  const [line, ...rest] = etcdPlanLines(running, 'v3.6.17', ['controller-1', 'controller-2', 'controller-3']);
  assert.equal(rest, []);
  assert.match(line!, /^upgrade: etcd v3\.5\.36 → v3\.6\.17, one member at a time.*: controller-1, controller-2$/);
  assert.equal(etcdPlanLines({ 'controller-1': 'v3.6.17' }, 'v3.6.17', ['controller-1']), []);
  // A control plane not yet running etcd is started, not upgraded.
  assert.equal(etcdPlanLines({}, 'v3.6.17', ['controller-1']), []);
});

// As the v3.6.17 binaries built here print it: `etcd Version: 3.6.17`, `etcdctl version: 3.6.17`.
test('the version each binary must report (checked after every build): etcd and etcdctl print it without the v', () => {
  assert.equal(etcdVersionCheck('etcd', 'v3.6.17'), { versionArgs: ['--version'], versionOutput: ['etcd Version: 3.6.17'] });
  assert.equal(etcdVersionCheck('etcdctl', 'v3.6.17'), { versionArgs: ['version'], versionOutput: ['etcdctl version: 3.6.17'] });
});

test('the second run of a cluster has the first run\'s graph: no target gains or loses a dependency once etcd is recorded as running (a fresh cluster and a running one differ only in what the member targets do)', () => {
  const config = { ...defaultConfig, nodes: defaultNodes({ controlPlanes: 3, workers: 1 }) };
  const fresh = projectTargets(config);
  // What the first run recorded: every node, and etcd running on every control plane with our binary.
  const entries: Record<string, Json> = {};
  ['controller-1', 'controller-2', 'controller-3', 'worker-1'].forEach((name, i) => {
    entries[`node:${name}`] = { name, container: `harder-${name}`, id: name, ip: `10.240.0.${name.startsWith('worker') ? 20 : 10 + i}`, role: name.startsWith('worker') ? 'worker' : 'control-plane', image: 'x', key: 'k' };
    if (!name.startsWith('worker')) {
      entries[`unit:${name}:etcd`] = unit(name);
      entries[`install:${name}:etcd`] = installed(name, 'sha-3.6.17');
    }
  });
  entries['bin:etcd:etcd'] = { name: 'etcd', version: etcdVersionOf(config), source: 'go', path: '/c/etcd', sha256: 'sha-3.6.17' };
  const second = new Map(projectTargets(config, { recorded: records(entries) }).map((t) => [t.name, t]));
  for (const t of fresh) {
    const again = second.get(t.name);
    assert.ok(again, `${t.name} is gone from the second run's graph`);
    assert.equal(Object.keys(again!.deps).sort(), Object.keys(t.deps).sort(), `${t.name}'s dependencies changed`);
  }
  assert.is(second.size, fresh.length);
});

test.run();
