// The test runner's self-test: the real entry (test/run.ts, which `npm test` runs with tsx; here as
// `node --import tsx test/run.ts <file>…`, the same minus tsx's relaying parent process) pointed at the
// broken-on-purpose files in test/fixtures/runner/, asserting on its exit code and closing line; plus the
// judging of uvu output on its own.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { judgeFile, parseMarks } from '../uvu-summary.ts';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

type Run = { code: number | null; output: string; last: string };

function runner(fixtures: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/run.ts', ...fixtures.map((f) => `test/fixtures/runner/${f}.ts`)], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', (code) => resolve({ code, output, last: output.trimEnd().split('\n').pop() ?? '' }));
  });
}

// Started together at load (each is a few node processes), awaited by the tests below.
const runs = {
  skips: runner(['pass', 'skip', 'conditional']),
  skipAndCrash: runner(['skip', 'crash']),
  only: runner(['only']),
  empty: runner(['empty']),
  hang: runner(['hang'], { HARDER_TEST_TIMEOUT_MS: '3000' }),
  suiteSkip: runner(['suite-skip']),
  fakeSummary: runner(['fake-summary']),
};

/** The runner's exit code and closing line, and the ✗ line it printed for `fixture` if `problem` is given. */
async function expectRun(run: Promise<Run>, code: number, last: string, fixture?: string, problem?: RegExp): Promise<void> {
  const r = await run;
  // The child's output is not printed as-is: its uvu summary would be read as this file's.
  const context = `runner output ended: ${JSON.stringify(r.output.slice(-600))}`;
  assert.is(r.last, last, context);
  assert.is(r.code, code, context);
  if (fixture && problem) {
    const line = r.output.split('\n').find((l) => l.startsWith(`✗ test/fixtures/runner/${fixture}.ts: `));
    assert.ok(line, `no ✗ line for ${fixture}; ${context}`);
    assert.match(line!, problem);
  }
}

test('runner: a test.skip, and a test whose condition does not hold, count as skipped (not as −1 failed) and are listed by name and reason', async () => {
  await expectRun(runs.skips, 0, '3 passed, 0 failed, 2 skipped');
  const listed = (await runs.skips).output.split('\nskipped:\n')[1]?.split('\n').slice(0, 2);
  assert.equal(listed, [
    '  ↷ test/fixtures/runner/skip.ts: is skipped (test.skip)',
    '  ↷ test/fixtures/runner/conditional.ts: conditional test (runs only with HARDER_FIXTURE=1)',
  ]);
});

test('runner: a file that crashes while loading fails the run, and a skip does not cancel it out (issue 10: `1 passed, 0 failed, 1 skipped`, exit 0)', async () => {
  await expectRun(runs.skipAndCrash, 1, '1 passed, 1 failed, 1 skipped', 'crash', /^✗ \S+: crashed before reporting \(exit 1\)$/);
});

test('runner: a leftover test.only fails the run and names itself', async () => {
  await expectRun(runs.only, 1, '1 passed, 1 failed, 1 skipped', 'only', /test\.only "the only one" left 1 other test unrun/);
});

test('runner: a file that registers no test fails the run', async () => {
  await expectRun(runs.empty, 1, '0 passed, 1 failed', 'empty', /: ran no test$/);
});

test('runner: a file that hangs is killed at its time limit and fails the run', async () => {
  await expectRun(runs.hang, 1, '0 passed, 1 failed', 'hang', /: timed out after 3s$/);
});

test('runner: a skip nothing names (a suite’s .skip) fails the run', async () => {
  await expectRun(runs.suiteSkip, 1, '1 passed, 1 failed, 1 skipped', 'suite-skip', /1 skipped test not named/);
});

test('runner: a summary with more passes than tests fails the run and adds no passes', async () => {
  await expectRun(runs.fakeSummary, 1, '0 passed, 1 failed', 'fake-summary', /inconsistent summary: 3 passed of 1 run/);
});

const summary = (total: number, passed: number, skipped: number): string => `\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  1ms\n\n`;

test('judgeFile: uvu’s Total excludes skips, so failed = Total − Passed', () => {
  const outcome = judgeFile({ output: `[skip] "b": test.skip\n• ${summary(1, 1, 1)}`, code: 0 });
  assert.equal(outcome, { passed: 1, failed: 0, skipped: 1, skips: [{ name: 'b', reason: 'test.skip' }], problems: [] });
  assert.equal(judgeFile({ output: `• ✘ ${summary(2, 1, 0)}`, code: 1 }), { passed: 1, failed: 1, skipped: 0, skips: [], problems: [] });
});

test('judgeFile: an exit code that disagrees with the summary is a problem either way', () => {
  assert.equal(judgeFile({ output: summary(1, 1, 0), code: 2 }).problems, ['exited 2 after its tests passed']);
  assert.equal(judgeFile({ output: summary(2, 1, 0), code: 0 }).problems, ['exited 0 despite 1 failed']);
  assert.equal(judgeFile({ output: summary(1, 1, 0), code: null, signal: 'SIGTERM' }).problems, ['exited SIGTERM after its tests passed']);
});

test('judgeFile: more named skips than uvu counted is inconsistent', () => {
  const outcome = judgeFile({ output: `[skip] "a": x\n[skip] "b": y\n${summary(1, 1, 1)}`, code: 0 });
  assert.equal(outcome.problems, ['inconsistent summary: 2 skips named but uvu counted 1']);
  assert.is(outcome.failed, 1);
});

test('judgeFile: a file whose every test was skipped still ran no test', () => {
  assert.equal(judgeFile({ output: `[skip] "a": x\n${summary(0, 0, 1)}`, code: 0 }).problems, ['ran no test (1 skipped)']);
});

test('parseMarks: names with quotes and colons, after uvu’s dots on the same line', () => {
  const output = `• • [skip] ${JSON.stringify('a "quoted": name')}: needs CI=true\n\x1b[2m[only] "x"\x1b[22m\n`;
  assert.equal(parseMarks(output), { skips: [{ name: 'a "quoted": name', reason: 'needs CI=true' }], only: ['x'] });
});

test.run();
