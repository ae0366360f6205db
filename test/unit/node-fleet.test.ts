// The per-run node fleet (lib/node/fleet.ts) over the recording fake (lib/node/fake.ts): what targets
// declare becomes each node's one batched read, shared until a write through the fleet (putFile,
// systemctl, an exec not marked read-only) drops it; a read-only view never drops it and refuses writes.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeNode, fakeFleet } from '../../lib/node/fake.ts';
import { declareNodeReads, NodeFleet, nodeReadsOf } from '../../lib/node/fleet.ts';
import { readOnlyView } from '../../lib/node/handle.ts';

/** Two declared "targets" on node n1 and one on n2, as plain objects (the fleet reads only their declarations). */
function declarations() {
  return [
    declareNodeReads({ name: 'install:n1:a' }, { node: 'n1', files: ['/etc/a'] }),
    declareNodeReads({ name: 'install:n1:bin' }, { node: 'n1', binaries: ['/usr/local/bin/x'] }),
    declareNodeReads({ name: 'unit:n1:x' }, { node: 'n1', units: ['x'], files: ['/etc/a'] }),
    declareNodeReads({ name: 'unit:n2:y' }, { node: 'n2', units: ['y'] }),
    { name: 'plain' },
  ];
}

test('declarations are gathered per node, in order, each path or unit once; undeclared targets add nothing', () => {
  const reads = nodeReadsOf(declarations());
  assert.equal([...reads.keys()], ['n1', 'n2']);
  assert.equal(reads.get('n1'), { files: ['/etc/a'], binaries: ['/usr/local/bin/x'], units: ['x'] });
  assert.equal(reads.get('n2'), { files: [], binaries: [], units: ['y'] });
  assert.is(JSON.stringify(declarations()[0]), '{"name":"install:n1:a"}', 'not part of the target as data');
});

test('a read command declared by several targets is asked once; one name declared as two commands is refused', () => {
  const images = ['ctr', '-n', 'k8s.io', 'images', 'ls'];
  const reads = nodeReadsOf([
    declareNodeReads({ name: 'load:a@n1' }, { node: 'n1', commands: { images } }),
    declareNodeReads({ name: 'load:b@n1' }, { node: 'n1', commands: { images: [...images] } }),
    declareNodeReads({ name: 'unit:n1:x' }, { node: 'n1', units: ['x'] }),
  ]);
  assert.equal(reads.get('n1'), { files: [], binaries: [], units: ['x'], commands: { images } });
  assert.throws(
    () => nodeReadsOf([declareNodeReads({ name: 'a' }, { node: 'n1', commands: { images } }), declareNodeReads({ name: 'b' }, { node: 'n1', commands: { images: ['crictl', 'images'] } })]),
    /node n1: two targets declare the read command images differently \(ctr -n k8s.io images ls \/ crictl images\)/,
  );
});

test('one batched read per node, shared by every ask, asking exactly what was declared', async () => {
  const n1 = new FakeNode('c-n1');
  const n2 = new FakeNode('c-n2');
  await n1.putFile('/etc/a', 'A');
  const fleet = fakeFleet([n1, n2], declarations());
  const [first, second] = await Promise.all([fleet.declared('n1', 'c-n1'), fleet.declared('n1', 'c-n1')]);
  await fleet.declared('n1', 'c-n1');
  await fleet.declared('n2', 'c-n2');
  assert.is(first, second);
  assert.is(n1.stateReads.length, 1);
  assert.equal(n1.stateReads[0], { files: ['/etc/a'], binaries: ['/usr/local/bin/x'], units: ['x'] });
  assert.is(n2.stateReads.length, 1);
  assert.ok(first.hashes.has('/etc/a'));
});

test('a write through the fleet drops that node’s read (and only that node’s); a read-only exec does not', async () => {
  const n1 = new FakeNode('c-n1');
  const n2 = new FakeNode('c-n2');
  const fleet = fakeFleet([n1, n2], declarations());
  await fleet.declared('n1', 'c-n1');
  await fleet.declared('n2', 'c-n2');
  await fleet.node('c-n1').exec(['systemctl', 'show', 'x.service'], { readOnly: true });
  await fleet.declared('n1', 'c-n1');
  assert.is(n1.stateReads.length, 1, 'read-only exec keeps it');
  await fleet.node('c-n1').putFile('/etc/a', 'new', 0o600);
  const after = await fleet.declared('n1', 'c-n1');
  assert.is(n1.stateReads.length, 2, 'putFile drops it');
  assert.ok(after.hashes.has('/etc/a'), 'and the next read sees the write');
  await fleet.node('c-n1').exec(['systemctl', 'restart', 'x.service']);
  await fleet.declared('n1', 'c-n1');
  assert.is(n1.stateReads.length, 3, 'an exec not marked read-only drops it');
  await fleet.node('c-n1').systemctl('daemon-reload');
  await fleet.declared('n1', 'c-n1');
  assert.is(n1.stateReads.length, 4, 'systemctl drops it');
  await fleet.declared('n2', 'c-n2');
  assert.is(n2.stateReads.length, 1, 'the other node keeps its read');
});

test('a read that ran while a write was under way is not kept', async () => {
  const n1 = new FakeNode('c-n1');
  const fleet = fakeFleet([n1], declarations());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const slowPut = n1.putFile.bind(n1);
  n1.putFile = async (path, content, mode) => {
    await gate;
    return slowPut(path, content, mode);
  };
  const writing = fleet.node('c-n1').putFile('/etc/a', 'A');
  const during = await fleet.declared('n1', 'c-n1');
  assert.is(during.hashes.has('/etc/a'), false, 'read before the write landed');
  release();
  await writing;
  const later = await fleet.declared('n1', 'c-n1');
  assert.ok(later.hashes.has('/etc/a'), 'read again once the write ended');
  assert.is(n1.stateReads.length, 2);
});

test('a failed read is not kept; changed() drops a read for changes made outside the fleet', async () => {
  const n1 = new FakeNode('c-n1');
  let fail = true;
  const real = n1.readState.bind(n1);
  n1.readState = async (query) => {
    if (fail) throw new Error('container is not running');
    return real(query);
  };
  const fleet = fakeFleet([n1], declarations());
  for (let i = 0; i < 2; i++) {
    const error = await fleet.declared('n1', 'c-n1').then(() => undefined, (e: Error) => e);
    assert.match(error?.message ?? '', /not running/, 'each ask reads again while it fails');
  }
  fail = false;
  await fleet.declared('n1', 'c-n1');
  await fleet.declared('n1', 'c-n1');
  assert.is(n1.stateReads.length, 1, 'one successful read, kept');
  fleet.changed('c-n1');
  await fleet.declared('n1', 'c-n1');
  assert.is(n1.stateReads.length, 2);
});

test('a read-only view marks every exec read-only and refuses writes', async () => {
  const n1 = new FakeNode('c-n1');
  const fleet = fakeFleet([n1], declarations());
  await fleet.declared('n1', 'c-n1');
  const view = readOnlyView(fleet.node('c-n1'));
  await view.exec(['systemctl', 'is-system-running']);
  await fleet.declared('n1', 'c-n1');
  assert.is(n1.stateReads.length, 1);
  assert.equal(n1.execs.map((e) => e.readOnly), [true]);
  try {
    await view.putFile('/etc/a', 'x');
    assert.unreachable('putFile through a read-only view');
  } catch (error) {
    assert.match((error as Error).message, /c-n1: putFile \/etc\/a through a read-only view/);
  }
  assert.is(n1.writes.length, 0);
});

test('one handle per address; close releases the transport once', async () => {
  let connects = 0;
  let closes = 0;
  const fleet = new NodeFleet({ connect: (address) => (connects++, new FakeNode(address)), close: () => void closes++ });
  assert.is(fleet.node('a'), fleet.node('a'));
  fleet.node('b');
  assert.is(connects, 2);
  await fleet.close();
  assert.is(closes, 1);
});

test.run();
