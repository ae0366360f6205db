// The one-exec read of a node's state (lib/node/read-state.ts): its fixed bash script run for real
// (here on the host, with real sha256sum and stat), the sections it prints and how they are parsed.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeReadArgv, parseNodeRead } from '../../lib/node/read-state.ts';

const dir = mkdtempSync(join(tmpdir(), 'harder-node-state-'));

/** Runs the read's argv on the host, as the node would (exit code ignored, like the probe does). */
function runRead(files: string[], binaries: string[], units: string[]): string {
  const [cmd, ...args] = nodeReadArgv(files, binaries, units);
  return spawnSync(cmd!, args, { encoding: 'utf8' }).stdout;
}

test('hashes present files, leaves missing ones out, paths with spaces included', () => {
  const a = join(dir, 'a.yaml');
  const spaced = join(dir, 'with space.conf');
  writeFileSync(a, 'kind: KubeletConfiguration\n');
  writeFileSync(spaced, 'x=1\n');
  const state = parseNodeRead(runRead([a, join(dir, 'missing'), spaced], [], []), 'host');
  assert.is(state.hashes.get(a), createHash('sha256').update('kind: KubeletConfiguration\n').digest('hex'));
  assert.is(state.hashes.get(spaced), createHash('sha256').update('x=1\n').digest('hex'));
  assert.is(state.hashes.has(join(dir, 'missing')), false);
  assert.is(state.hashes.size, 2);
  assert.is(state.stamps.size, 0);
});

test('binaries by size and mtime (as the binary install records them), never hashed; groups do not mix', () => {
  const bin = join(dir, 'kubelet');
  const conf = join(dir, 'kubelet.conf');
  writeFileSync(bin, Buffer.alloc(4096, 1));
  // A known size and mtime, so the stamp is checked against facts rather than against another stat:
  // 4096 bytes, modified at 2021-02-03T04:05:06.789Z, which is 1612325106 whole seconds (truncated, not rounded).
  utimesSync(bin, new Date(1612325106789), new Date(1612325106789));
  writeFileSync(conf, 'c');
  const state = parseNodeRead(runRead([conf], [bin, join(dir, 'gone')], []), 'host');
  assert.is(state.stamps.get(bin), '4096 1612325106');
  assert.is(state.stamps.size, 1);
  assert.equal([...state.hashes.keys()], [conf]);
});

test('arguments are data, never script text', () => {
  const marker = join(dir, 'pwned');
  const evil = `${dir}/$(touch ${marker})"; touch ${marker}; echo "`;
  const out = runRead([evil], [evil], []);
  parseNodeRead(out, 'host');
  assert.is(existsSync(marker), false);
});

test('empty groups still print every section', () => {
  const state = parseNodeRead(runRead([], [], []), 'host');
  assert.is(state.hashes.size + state.stamps.size + state.units.size, 0);
});

test('unit blocks: ActiveState, SubState, UnitFileState, a queued job and when it became active, by unit name, in systemctl show format', () => {
  const out = [
    '@@harder:sha256',
    '@@harder:stat',
    '@@harder:units',
    'Id=kubelet.service',
    'ActiveState=active',
    'SubState=running',
    'UnitFileState=enabled',
    'ActiveEnterTimestamp=@1764650000',
    '',
    'Id=kube-controller-manager.service',
    'ActiveState=activating',
    'SubState=auto-restart',
    'UnitFileState=enabled',
    'Job=0',
    '',
    'Id=kube-apiserver.service',
    'ActiveState=inactive',
    'SubState=dead',
    'UnitFileState=enabled',
    'Job=142',
    '',
    'Id=no-such.service',
    'ActiveState=inactive',
    'SubState=dead',
    'UnitFileState=',
    'ActiveEnterTimestamp=',
    '',
  ].join('\n');
  const state = parseNodeRead(out, 'host');
  assert.equal(state.units.get('kubelet'), { active: 'active', sub: 'running', enabled: 'enabled', job: false, since: 1764650000 });
  assert.equal(state.units.get('kube-controller-manager'), { active: 'activating', sub: 'auto-restart', enabled: 'enabled', job: false });
  assert.equal(state.units.get('kube-apiserver'), { active: 'inactive', sub: 'dead', enabled: 'enabled', job: true });
  assert.equal(state.units.get('no-such'), { active: 'inactive', sub: 'dead', enabled: '', job: false });
  const script = nodeReadArgv([], [], ['kubelet'])[2]!;
  assert.match(script, /systemctl show --timestamp=unix --property=Id,ActiveState,SubState,UnitFileState,Job,ActiveEnterTimestamp -- /);
});

test('declared commands run in the same read: each output exactly, a failed one left out, arguments kept whole', () => {
  const spaced = join(dir, 'two words.txt');
  writeFileSync(spaced, 'line one\nline two\n');
  const [cmd, ...args] = nodeReadArgv([], [], [], {
    listing: ['cat', '--', spaced],
    unterminated: ['printf', '%s', 'no newline'],
    empty: ['true'],
    failing: ['cat', join(dir, 'no-such-file')],
    after: ['echo', '@@harder:stat'],
  });
  const state = parseNodeRead(spawnSync(cmd!, args, { encoding: 'utf8' }).stdout, 'host');
  assert.equal(Object.fromEntries(state.outputs), { listing: 'line one\nline two\n', unterminated: 'no newline\n', empty: '', after: '@@harder:stat\n' });
  // What came before the commands is intact.
  assert.is(state.hashes.size, 0);
  assert.is(state.units.size, 0);
});

test('output without the sections (the script did not run) is an error naming the container', () => {
  assert.throws(() => parseNodeRead('OCI runtime exec failed: exec: "bash": not found\n', 'harder-worker-9'), /harder-worker-9.*no sha256, stat, units section/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
