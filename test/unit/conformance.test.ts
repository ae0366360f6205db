// The conformance run's pure parts: the pass-through arguments, the ginkgo command line of each part, the
// skip list as a regular expression, and the summary read from a ginkgo JSON report (written here in
// ginkgo's types.Report shape: a suite-level node, passed, failed, self-skipped and filtered-out specs).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CliError } from '../../lib/errors.ts';
import { ginkgoArgs, parseConformanceArgs } from '../../tasks/conformance/run.ts';
import { accountPart, renderSummary, specOutcomes, summarizePart } from '../../tasks/conformance/report.ts';
import { CONFORMANCE_SKIPS, skipRegex } from '../../tasks/conformance/skips.ts';

const paths = { e2eTest: '/c/e2e.test', kubeconfig: '/o/admin.kubeconfig', kubectl: '/c/kubectl', reportDir: '/o/conformance/t' };

test('pass-through arguments: --focus/--skip (both spellings), --procs, one part only; bad ones are usage errors', () => {
  assert.equal(parseConformanceArgs([]), { procs: 4, parts: ['parallel', 'serial'] });
  const o = parseConformanceArgs(['--focus', 'DNS', '--skip=IPv6', '--procs=2', '--parallel-only']);
  assert.equal(o, { procs: 2, parts: ['parallel'], focus: 'DNS', skip: 'IPv6' });
  assert.equal(parseConformanceArgs(['--serial-only']).parts, ['serial']);
  for (const bad of [['--focus'], ['--procs', '0'], ['--frobnicate'], ['--focus=(']]) {
    try {
      parseConformanceArgs(bad);
      assert.unreachable(`accepted ${bad.join(' ')}`);
    } catch (error) {
      assert.instance(error, CliError, `${bad.join(' ')}: ${(error as Error).message}`);
      assert.match((error as Error).message, /^conformance: /);
    }
  }
});

test('ginkgo command line: the Conformance label, Serial excluded in parallel and required in serial, reports and e2e flags', () => {
  const options = parseConformanceArgs(['--focus=Services', '--procs=3']);
  const parallel = ginkgoArgs('parallel', options, paths);
  const serial = ginkgoArgs('serial', options, paths);
  assert.ok(parallel.includes('--label-filter=Conformance && !Serial'));
  assert.ok(serial.includes('--label-filter=Conformance && Serial'));
  assert.ok(parallel.includes('--procs=3') && !serial.some((a) => a.startsWith('--procs')));
  for (const args of [parallel, serial]) {
    assert.ok(args.includes('--focus=Services'));
    // Everything after the binary goes to e2e.test itself.
    const split = args.indexOf(paths.e2eTest);
    assert.is(args[split + 1], '--');
    assert.ok(args.slice(split).includes('--provider=skeleton') && args.slice(split).includes(`--kubeconfig=${paths.kubeconfig}`));
    assert.ok(args.slice(0, split).includes(`--output-dir=${paths.reportDir}`));
  }
});

test('skip list: every entry has a reason, and the regex matches exactly the names listed (literally)', () => {
  for (const s of CONFORMANCE_SKIPS) assert.ok(s.reason.length > 20, `${s.test}: reason too short`);
  const list = [{ test: 'a [Conformance] (x.y)', reason: 'r' }, { test: 'b|c', reason: 'r' }];
  const re = new RegExp(skipRegex(list)!);
  assert.ok(re.test('[sig-x] a [Conformance] (x.y) more') && re.test('b|c'));
  assert.not.ok(re.test('a [Conformance] (xzy)') || re.test('b') || re.test('c'));
  assert.is(skipRegex([]), undefined);
});

const spec = (texts: string[], leaf: string, state: string, failure?: string) => ({
  ContainerHierarchyTexts: texts,
  LeafNodeText: leaf,
  LeafNodeType: 'It',
  State: state,
  RunTime: 1e9,
  Failure: failure === undefined ? null : { Message: failure, Location: { FileName: 'x.go', LineNumber: 1 } },
});

test('summary from a ginkgo JSON report: counts tests (not suite nodes), names failures with their first lines, counts only real skips', () => {
  const report = [
    {
      SuitePath: '/e2e',
      SpecReports: [
        { LeafNodeType: 'SynchronizedBeforeSuite', State: 'passed', LeafNodeText: '' },
        spec(['[sig-network] DNS'], 'should provide DNS for services [Conformance]', 'passed'),
        spec(['[sig-network] DNS'], 'should provide DNS for the cluster [Conformance]', 'passed'),
        spec(['[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin]'], 'should mutate configmap [Conformance]', 'failed', 'waiting for webhook configuration to be ready: timed out\n\n  second line\nthird\nfourth\nfifth'),
        spec(['[sig-node] Pods'], 'should be evicted [Conformance]', 'timedout', ''),
        spec(['[sig-storage] X'], 'skips itself [Conformance]', 'skipped', 'Only supported for providers [gce]'),
        spec(['[sig-storage] Y'], 'filtered out', 'skipped'),
        spec(['[sig-apps] Z'], 'listed [Conformance]', 'skipped'),
      ],
    },
  ];
  const part = summarizePart('parallel', JSON.stringify(report), 75, (name) => name.includes('listed [Conformance]'));
  assert.is(part.passed, 2);
  assert.is(part.failed, 2);
  assert.is(part.skipped, 2);
  assert.equal(part.failures[0], {
    name: '[sig-api-machinery] AdmissionWebhook [Privileged:ClusterAdmin] should mutate configmap [Conformance]',
    reason: ['waiting for webhook configuration to be ready: timed out', '  second line', 'third', 'fourth'],
  });
  assert.equal(part.failures[1]!.reason, ['timedout']);
  // A listed test is counted once: in its own part, not again in the part whose label filter left it out.
  const serial = summarizePart('serial', JSON.stringify(report), 5, (name) => name.includes('listed [Conformance]'));
  assert.is(serial.skipped, 1); // only the self-skipped one: the listed test is not [Serial]
  const text = renderSummary({ passed: 2, failed: 2, skipped: 2, seconds: 75, parts: [part], failures: part.failures }, 'output/conformance/t');
  assert.match(text, /^conformance: 2 passed, 2 failed, 2 skipped in 1 min 15 s$/m);
  assert.match(text, /^FAIL \[sig-api-machinery\] AdmissionWebhook .* should mutate configmap \[Conformance\]\n {4}waiting for webhook/m);
  assert.match(text, /^report: output\/conformance\/t /m);
});

test('a part held against the suite\'s list: each listed test passed, failed, skipped (listed or by the suite) or not run; a crash counts every test as not run', () => {
  const list = [
    '[sig-network] DNS should provide DNS for services [Conformance]',
    '[sig-node] Pods should be evicted [Conformance]',
    '[sig-apps] Z listed [Conformance]',
    '[sig-storage] X skips itself [Conformance]',
    '[sig-node] never reported [Conformance]',
  ];
  const report = JSON.stringify([
    {
      SpecReports: [
        { LeafNodeType: 'SynchronizedBeforeSuite', State: 'passed', LeafNodeText: '' },
        spec(['[sig-network] DNS'], 'should provide DNS for services [Conformance]', 'passed'),
        spec(['[sig-node] Pods'], 'should be evicted [Conformance]', 'timedout', 'Timed out after 300s.\nmore'),
        spec(['[sig-apps] Z'], 'listed [Conformance]', 'skipped'),
        spec(['[sig-storage] X'], 'skips itself [Conformance]', 'skipped', 'Only supported for providers [gce]'),
        spec(['[sig-cli] Q'], 'not in the list [Conformance]', 'passed'),
        spec(['[sig-cli] Q'], 'a serial one [Serial] [Conformance]', 'skipped'),
      ],
    },
  ]);
  const listed = (name: string) => name.includes('Z listed');
  const outcomes = specOutcomes(report);
  assert.is(outcomes.length, 6, 'the suite-level node is not a test');
  const account = accountPart('parallel', list, outcomes, listed);
  assert.is(account.expected, 5);
  assert.equal(account.passed, [list[0]]);
  assert.equal(account.failed, [{ name: list[1], reason: ['Timed out after 300s.', 'more'] }]);
  assert.equal(account.listedSkips, [list[2]]);
  assert.equal(account.selfSkipped, [{ name: list[3], reason: ['Only supported for providers [gce]'] }]);
  assert.equal(account.notRun, [list[4]]);
  assert.equal(account.ranUnlisted, ['[sig-cli] Q not in the list [Conformance]']);
  // No report at all (the part crashed before writing one): nothing passed, every test but the listed skip is not run.
  const crashed = accountPart('parallel', list, undefined, listed);
  assert.equal([crashed.passed.length, crashed.failed.length, crashed.listedSkips, crashed.notRun.length], [0, 0, [list[2]], 4]);
});

test.run();
