// Hashing, JSON checks, the stat cache (re-hash only on size/mtime/inode change) and name suggestions.

import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashJson, jsonProblem, stableStringify } from '../../lib/engine/hash.ts';
import { StatCache, hashCounter } from '../../lib/engine/stat-cache.ts';
import { editDistance, suggest } from '../../lib/engine/suggest.ts';
import { tempProject, write } from '../fixtures/engine/helpers.ts';

test('stableStringify sorts keys at every depth, so equal values hash equal', () => {
  assert.is(stableStringify({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }), '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
  assert.is(hashJson({ a: 1, b: 2 }), hashJson({ b: 2, a: 1 }));
  assert.is.not(hashJson({ a: 1 }), hashJson({ a: '1' }));
});

test('jsonProblem names the path of the first non-JSON value', () => {
  assert.is(jsonProblem({ a: [1, 'x', null, { b: true }] }), undefined);
  assert.is(jsonProblem(undefined), 'result is undefined (return null, or a value)');
  assert.is(jsonProblem({ nodes: [{ created: new Date(0) }] }), 'result.nodes[0].created is a Date (only plain objects, arrays, strings, numbers, booleans and null are JSON)');
  assert.match(jsonProblem({ n: NaN })!, /result.n is NaN/);
  assert.match(jsonProblem({ f: () => 1 })!, /result.f is a function/);
  assert.match(jsonProblem({ m: new Map() })!, /is a Map/);
  assert.match(jsonProblem(10n)!, /bigint/);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.match(jsonProblem(cyclic)!, /refers back to itself/);
  // An absent optional field is fine: JSON drops it.
  assert.is(jsonProblem({ a: undefined, b: 1 }), undefined);
});

// sha256 of 'hello' and 'hello!' (as `printf hello | sha256sum` prints them): facts the cache's stamps
// are checked against, instead of against another stamp or stat.
const HELLO = '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824';
const HELLO_BANG = 'ce06092fb948d9ffac7d1a376e404b26b7575bcc11ee05a4615fef4fec3a308b';

test('the stat cache hashes a file once, and again only when it changed', () => {
  const root = tempProject('stat');
  const file = join(root, 'a.txt');
  writeFileSync(file, 'hello');
  // A known mtime (whole seconds: a fraction would not survive the round trip through the file system's
  // nanoseconds exactly), old enough to be cached (not "racily clean").
  const t1 = Date.UTC(2020, 0, 2, 3, 4, 5);
  utimesSync(file, new Date(t1), new Date(t1));
  const cacheFile = join(root, 'cache.json');
  const cache = new StatCache(cacheFile);
  const before = hashCounter.files;
  const first = cache.stamp(file)!;
  assert.is(hashCounter.files, before + 1);
  assert.is(first.hash, HELLO);
  assert.is(first.size, 5);
  assert.is(first.mtimeMs, t1);
  assert.equal(cache.stamp(file), first);
  assert.is(hashCounter.files, before + 1, 'second stamp is a cache hit');
  cache.save();
  // A new cache object (a new run) loads the persisted entries: the same stamp, still no hashing.
  const again = new StatCache(cacheFile);
  assert.equal(again.stamp(file), first);
  assert.is(hashCounter.files, before + 1, 'persisted cache hit');
  // Touch without changing content: re-hashed (the stat changed), same hash, the new mtime.
  const t2 = t1 + 5_000;
  utimesSync(file, new Date(t2), new Date(t2));
  const touched = again.stamp(file)!;
  assert.is(hashCounter.files, before + 2);
  assert.is(touched.hash, HELLO);
  assert.is(touched.mtimeMs, t2);
  // Change content: the new content's hash and size.
  writeFileSync(file, 'hello!');
  utimesSync(file, new Date(t2 + 1_000), new Date(t2 + 1_000));
  const changed = again.stamp(file)!;
  assert.is(changed.hash, HELLO_BANG);
  assert.is(changed.size, 6);
  assert.is(hashCounter.files, before + 3);
  assert.is(again.stamp(join(root, 'missing.txt')), undefined);
});

test('a corrupt stat cache file is ignored (files are simply re-hashed)', () => {
  const root = tempProject('stat');
  write(root, 'a.txt', 'x');
  write(root, 'cache.json', '{"format":1,"files":{');
  const cache = new StatCache(join(root, 'cache.json'));
  const before = hashCounter.files;
  assert.ok(cache.stamp(join(root, 'a.txt')));
  assert.is(hashCounter.files, before + 1);
});

test('suggest offers the closest names', () => {
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.equal(suggest('net:pln', ['net:plan', 'pki:ca', 'nodes']), ['net:plan']);
  assert.equal(suggest('ca', ['pki:ca', 'pki:admin', 'net:plan']), ['pki:ca']);
  assert.equal(suggest('zzzzzz', ['pki:ca']), []);
});

test.run();
