// The version-skew policy's verdicts on an upgrade done in one run (tasks/cluster/upgrade/skew.ts). The
// expected verdicts are the policy's (https://kubernetes.io/releases/version-skew-policy/ and kubeadm's
// upgrade rules): one minor up at a time, no downgrade to an older minor, any patch within the minor.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compareReleases, parseRelease, skewRefusal } from '../../tasks/cluster/upgrade/skew.ts';

test('releases parse and order as versions (not as strings: v1.9 < v1.10)', () => {
  assert.equal(parseRelease('v1.33.13'), { major: 1, minor: 33, patch: 13 });
  assert.is(parseRelease('1.33.13'), undefined);
  assert.is(parseRelease('v1.33'), undefined);
  assert.ok(compareReleases(parseRelease('v1.9.0')!, parseRelease('v1.10.0')!) < 0);
  assert.ok(compareReleases(parseRelease('v1.33.13')!, parseRelease('v1.33.6')!) > 0);
});

test('nothing running yet (a new cluster): any version', () => {
  assert.is(skewRefusal([], 'v1.35.4'), undefined);
});

test('from v1.33.13: a patch change either way and one minor up are allowed', () => {
  for (const wanted of ['v1.33.13', 'v1.33.14', 'v1.33.6', 'v1.34.0', 'v1.34.4']) assert.is(skewRefusal(['v1.33.13'], wanted), undefined, wanted);
});

test('from v1.33.13 to v1.35.4: skipping v1.34 is refused, saying what is allowed', () => {
  const refusal = skewRefusal(['v1.33.13'], 'v1.35.4');
  assert.ok(refusal);
  assert.match(refusal!.problem, /v1\.35\.4 skips v1\.34/);
  assert.match(refusal!.problem, /runs v1\.33\.13/);
  assert.match(refusal!.valid, /a v1\.33 patch release \(up or down\) or a v1\.34 release \(one minor up\)/);
  // Two minors up names both skipped minors.
  assert.match(skewRefusal(['v1.33.13'], 'v1.36.0')!.problem, /skips v1\.34, v1\.35/);
});

test('from v1.34.4: back to v1.33 is a downgrade across minors, refused; v1.34.0 (a patch down) is not', () => {
  const refusal = skewRefusal(['v1.34.4'], 'v1.33.13');
  assert.ok(refusal);
  assert.match(refusal!.problem, /v1\.33\.13 is a downgrade across minors/);
  assert.match(refusal!.valid, /a v1\.34 patch release \(up or down\) or a v1\.35 release/);
  assert.is(skewRefusal(['v1.34.4'], 'v1.34.0'), undefined);
});

test('a cluster left half-way (apiservers v1.34.4, kubelets v1.33.13) may only finish at v1.34', () => {
  const running = ['v1.34.4', 'v1.33.13', 'v1.34.4'];
  assert.is(skewRefusal(running, 'v1.34.4'), undefined);
  assert.is(skewRefusal(running, 'v1.34.1'), undefined);
  // v1.35 would move the v1.33 kubelets two minors; v1.33 would take the v1.34 apiservers back across a minor.
  assert.match(skewRefusal(running, 'v1.35.4')!.problem, /skips v1\.34/);
  assert.match(skewRefusal(running, 'v1.33.13')!.problem, /downgrade across minors/);
  assert.match(skewRefusal(running, 'v1.33.13')!.valid, /a v1\.34 release \(finish the upgrade to it first\)/);
});

test('another major version is refused', () => {
  assert.match(skewRefusal(['v1.34.4'], 'v2.0.0')!.problem, /changes the major version/);
});

test.run();
