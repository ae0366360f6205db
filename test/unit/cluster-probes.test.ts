// Probe decisions, without Docker: a node container's drift (a stopped node is reported, never started),
// and a unit's (systemd bringing a unit back by itself is waited for, within a bound, before it counts as
// drift), with an injected reader and clock.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type Dockerode from 'dockerode';
import { unitDrift } from '../../tasks/cluster/node-targets.ts';
import type { UnitState } from '../../lib/node/handle.ts';
import { nodeContainerDrift, type NodeContainer } from '../../tasks/nodes/containers.ts';
import { KEY_LABEL } from '../../tasks/nodes/labels.ts';

const unit = (active: string, sub = '', extra: Partial<UnitState> = {}): UnitState => ({ active, sub, enabled: 'enabled', job: false, ...extra });

/** A fake clock: sleeping advances it; `reads` counts the rereads. */
function harness(sequence: (UnitState | undefined)[]) {
  let now = 0;
  let reads = 0;
  const clock = { now: () => now, sleep: async (ms: number) => void (now += ms) };
  const reread = async () => sequence[Math.min(reads++, sequence.length - 1)];
  return { clock, reread, reads: () => reads, elapsed: () => now };
}

test('active and enabled: up to date at once, nothing read again', async () => {
  const h = harness([]);
  assert.is(await unitDrift('kubelet', 'worker-1', unit('active', 'running'), h.reread, { clock: h.clock }), undefined);
  assert.is(h.reads(), 0);
});

test('activating (auto-restart), then active within the bound: up to date, after polling', async () => {
  const h = harness([unit('activating', 'auto-restart'), unit('activating', 'start'), unit('active', 'running')]);
  const reason = await unitDrift('kube-controller-manager', 'controller-1', unit('activating', 'auto-restart'), h.reread, { clock: h.clock, boundMs: 60_000, pollMs: 1000 });
  assert.is(reason, undefined);
  assert.is(h.reads(), 3);
  assert.is(h.elapsed(), 3000);
});

test('inactive with a start job queued (boot, waiting for what it is ordered after), then active: up to date', async () => {
  const h = harness([unit('inactive', 'dead', { job: true }), unit('active', 'running')]);
  assert.is(await unitDrift('kube-apiserver', 'controller-1', unit('inactive', 'dead', { job: true }), h.reread, { clock: h.clock }), undefined);
  assert.is(h.reads(), 2);
});

test('failed: drift at once, no waiting', async () => {
  const h = harness([]);
  const reason = await unitDrift('kube-scheduler', 'controller-1', unit('failed', 'failed'), h.reread, { clock: h.clock });
  assert.is(reason, 'kube-scheduler on controller-1 is failed (failed)');
  assert.is(h.reads(), 0);
  assert.is(h.elapsed(), 0);
});

test('inactive with nothing queued (stopped by hand): drift at once', async () => {
  const h = harness([]);
  assert.match((await unitDrift('kubelet', 'worker-1', unit('inactive', 'dead'), h.reread, { clock: h.clock }))!, /kubelet on worker-1 is inactive \(dead\)/);
  assert.is(h.reads(), 0);
});

test('coming back, then failed: drift as soon as it fails', async () => {
  const h = harness([unit('activating', 'start'), unit('failed', 'failed')]);
  const reason = await unitDrift('etcd', 'controller-1', unit('activating', 'auto-restart'), h.reread, { clock: h.clock, pollMs: 500 });
  assert.is(reason, 'etcd on controller-1 is failed (failed)');
  assert.is(h.elapsed(), 1000);
});

test('stuck activating past the bound: drift naming the state and the bound; the wait is bounded', async () => {
  const h = harness([unit('activating', 'auto-restart')]);
  const reason = await unitDrift('kube-controller-manager', 'controller-1', unit('activating', 'auto-restart'), h.reread, { clock: h.clock, boundMs: 60_000, pollMs: 1000 });
  assert.is(reason, 'kube-controller-manager on controller-1 is still activating (auto-restart) after 60 s');
  assert.ok(h.elapsed() >= 60_000 && h.elapsed() <= 61_000, `waited ${h.elapsed()} ms`);
});

test('unknown or disabled units are drift without waiting', async () => {
  const h = harness([]);
  assert.is(await unitDrift('kubelet', 'worker-1', undefined, h.reread, { clock: h.clock }), 'kubelet is unknown on worker-1');
  assert.is(await unitDrift('kubelet', 'worker-1', unit('activating', 'start', { enabled: 'disabled' }), h.reread, { clock: h.clock }), 'kubelet on worker-1 is disabled');
  assert.is(h.reads(), 0);
});

test('a unit that disappears while being waited for is drift', async () => {
  const h = harness([undefined]);
  assert.is(await unitDrift('kubelet', 'worker-1', unit('activating', 'start'), h.reread, { clock: h.clock }), 'kubelet is unknown on worker-1');
});

const built: NodeContainer = { name: 'worker-1', container: 'c-worker-1', id: 'a'.repeat(64), ip: '10.0.0.21', role: 'worker', image: 'img', key: 'k1' };

function inspected(state: Partial<Dockerode.ContainerInspectInfo['State']>, over: { id?: string; key?: string; ip?: string } = {}): Dockerode.ContainerInspectInfo {
  return {
    Id: over.id ?? built.id,
    Config: { Labels: { [KEY_LABEL]: over.key ?? built.key } },
    State: { Status: 'running', Running: true, Paused: false, StartedAt: new Date().toISOString(), ...state },
    NetworkSettings: { Networks: { net: { IPAMConfig: { IPv4Address: over.ip ?? built.ip } } } },
  } as unknown as Dockerode.ContainerInspectInfo;
}

test('node container drift: a stopped or paused node is reported (the build starts it), running is fine', () => {
  assert.is(nodeContainerDrift(built, inspected({}), 'net'), undefined);
  assert.is(nodeContainerDrift(built, inspected({ Status: 'exited', Running: false }), 'net'), 'container c-worker-1 is stopped (exited)');
  assert.is(nodeContainerDrift(built, inspected({ Status: 'paused', Running: true, Paused: true }), 'net'), 'container c-worker-1 is paused');
  assert.is(nodeContainerDrift(built, undefined, 'net'), 'container c-worker-1 does not exist');
  assert.match(nodeContainerDrift(built, inspected({}, { id: 'b'.repeat(64) }), 'net')!, /was replaced/);
  assert.match(nodeContainerDrift(built, inspected({}, { key: 'k2' }), 'net')!, /another key label/);
  assert.match(nodeContainerDrift(built, inspected({}, { ip: '10.0.0.99' }), 'net')!, /has IP 10\.0\.0\.99 on net, planned 10\.0\.0\.21/);
});

test.run();
