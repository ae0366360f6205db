// Unit tests of the pure parts of the Docker helpers: the attach-stream demultiplexer, subnet overlap,
// and the node container spec and its key (no Docker needed).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { demuxFrames } from '../../lib/docker/demux.ts';
import { subnetsOverlap } from '../../lib/docker/networks.ts';
import { isCapabilityRefusal, privilegeHostConfig } from '../../lib/docker/containers.ts';
import { nodeContainerSpec, nodeSpecKey } from '../../tasks/nodes/containers.ts';

function frame(stream: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function run(chunks: Buffer[]): { out: Buffer; err: Buffer } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const demux = demuxFrames((stream, payload) => (stream === 2 ? err : out).push(payload));
  for (const chunk of chunks) demux.push(chunk);
  return { out: Buffer.concat(out), err: Buffer.concat(err) };
}

test('demux: frames split anywhere, headers included, come out whole and in order', () => {
  const a = Buffer.from('hello ');
  const b = Buffer.from('stderr line\n');
  const c = Buffer.alloc(100_000, 7);
  const wire = Buffer.concat([frame(1, a), frame(2, b), frame(1, c), frame(1, Buffer.alloc(0))]);
  for (const size of [1, 3, 7, 8, 9, 4096, wire.length]) {
    const chunks: Buffer[] = [];
    for (let i = 0; i < wire.length; i += size) chunks.push(wire.subarray(i, i + size));
    const { out, err } = run(chunks);
    assert.ok(out.equals(Buffer.concat([a, c])), `stdout with chunk size ${size}`);
    assert.is(err.toString(), 'stderr line\n');
  }
});

test('demux: all 256 byte values pass through unchanged, even bytes that look like headers', () => {
  const payload = Buffer.alloc(1024);
  for (let i = 0; i < payload.length; i++) payload[i] = i % 256;
  const { out } = run([frame(1, payload.subarray(0, 300)), frame(1, payload.subarray(300))]);
  assert.ok(out.equals(payload));
});

test('subnet overlap', () => {
  assert.ok(subnetsOverlap('10.241.10.0/24', '10.241.10.128/25'));
  assert.ok(subnetsOverlap('10.0.0.0/8', '10.241.10.0/24'));
  assert.not.ok(subnetsOverlap('10.241.10.0/24', '10.241.11.0/24'));
  assert.not.ok(subnetsOverlap('172.17.0.0/16', '10.240.0.0/24'));
});

test('privilege modes: the explicit-capability set, and the refusal message is recognised', () => {
  assert.equal(privilegeHostConfig('privileged'), { Privileged: true });
  const caps = privilegeHostConfig('capabilities');
  assert.equal(caps.CapAdd, ['ALL']);
  assert.equal(caps.CapDrop, ['SYS_RESOURCE']);
  assert.equal(caps.MaskedPaths, []);
  // What --privileged grants the devices cgroup, so a privileged pod's runc can grant it too.
  assert.equal(caps.DeviceCgroupRules, ['a *:* rwm']);
  assert.ok(isCapabilityRefusal(new Error('OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown')));
  assert.not.ok(isCapabilityRefusal(new Error('no such image')));
});

test('node container spec: name, hostname, fixed IP, labels; the key changes with any input', () => {
  const input = { clusterName: 'c', node: { name: 'worker-1', role: 'worker' as const }, ip: '10.0.0.20', image: 'harder-node:abc', network: 'c', extras: {} };
  const spec = nodeContainerSpec(input);
  assert.is(spec.name, 'c-worker-1');
  assert.is(spec.Hostname, 'worker-1');
  assert.equal(spec.NetworkingConfig?.EndpointsConfig?.c?.IPAMConfig, { IPv4Address: '10.0.0.20' });
  assert.is(spec.Labels?.['harder.cluster'], 'c');
  assert.is(spec.Labels?.['harder.role'], 'worker');
  assert.is((spec.HostConfig as { CgroupnsMode?: string }).CgroupnsMode, 'private');
  const key = nodeSpecKey(spec, 'sha256:i', 'n', 'auto');
  assert.is(nodeSpecKey(nodeContainerSpec(input), 'sha256:i', 'n', 'auto'), key, 'deterministic');
  assert.is.not(nodeSpecKey(nodeContainerSpec({ ...input, ip: '10.0.0.21' }), 'sha256:i', 'n', 'auto'), key);
  assert.is.not(nodeSpecKey(nodeContainerSpec({ ...input, extras: { memoryBytes: 1 << 30 } }), 'sha256:i', 'n', 'auto'), key);
  assert.is.not(nodeSpecKey(spec, 'sha256:j', 'n', 'auto'), key);
  assert.is.not(nodeSpecKey(spec, 'sha256:i', 'n', 'capabilities'), key);
});

test.run();
