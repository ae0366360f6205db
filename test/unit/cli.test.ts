// The CLI end to end: real child processes of a fixture project (test/fixtures/engine/project.ts)
// in temp dirs — help, errors, dry run, explain, failures, the lock, commands, clean, and killing a
// build mid-way with SIGINT and SIGKILL, then checking the rerun rebuilds only what was not finished.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempProject, write } from '../fixtures/engine/helpers.ts';

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const fixture = join(repo, 'test/fixtures/engine/project.ts');

type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

function start(root: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
    cwd: repo,
    env: { ...process.env, CI: '', FIXTURE_ROOT: root, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

const cli = (root: string, args: string[], env: Record<string, string> = {}): Promise<Run> => start(root, args, env).done;

function project(): string {
  const root = tempProject('cli');
  write(root, 'seed.txt', 'seed');
  return root;
}

/** Lines of builds.log (what the fixture's builds recorded), optionally only those after `from`. */
function log(root: string, from = 0): string[] {
  const path = join(root, 'builds.log');
  return existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).slice(from) : [];
}

async function waitFor(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('--help lists targets by group, commands and flags', async () => {
  const run = await cli(project(), ['--help']);
  assert.is(run.code, 0);
  assert.match(run.stdout, 'Usage: fixture <target|alias|group…> [flags]');
  assert.match(run.stdout, /  step\n    step:1 +Fan-out step 1\n/);
  assert.match(run.stdout, /src:seed +Reads the seed file \[precious\]/);
  assert.match(run.stdout, /all +Everything \[alias\]/);
  assert.match(run.stdout, /echo <word…> +Builds one target per word/);
  assert.match(run.stdout, /--keep-going/);
});

test('unknown target and bad flag: one message with a suggestion, exit 2, no stack', async () => {
  const root = project();
  const unknown = await cli(root, ['stpe:1']);
  assert.is(unknown.code, 2);
  assert.is(unknown.stderr, '✗ unknown target stpe:1\n  hint: did you mean step:1?\n');
  const flag = await cli(root, ['all', '--kep-going']);
  assert.is(flag.code, 2);
  assert.is(flag.stderr, '✗ unknown flag --kep-going\n  hint: did you mean --keep-going?\n');
  const jobs = await cli(root, ['all', '-j', 'zero']);
  assert.is(jobs.stderr, '✗ -j wants a whole number ≥ 1, got "zero"\n');
  const command = await cli(root, ['echo']);
  assert.is(command.code, 2);
  assert.is(command.stderr, '✗ echo needs at least one word\n');
});

test('an empty target name (an unset shell variable) is named as such, exit 2, nothing built', async () => {
  const root = project();
  for (const args of [[''], ['all', ' '], ['clean:']]) {
    const run = await cli(root, args);
    assert.is(run.code, 2, args.join(','));
    assert.match(run.stderr, /^✗ empty target name/, args.join(','));
    assert.not.match(run.stderr, 'unknown target');
  }
  assert.equal(log(root), []);
  const jobs = await cli(root, ['all', '--jobs', '-1']);
  assert.is(jobs.code, 2);
  assert.is(jobs.stderr, '✗ --jobs wants a whole number ≥ 1, got "-1"\n');
});

test('an invalid graph: every problem once, exit 2, no stack', async () => {
  const duplicate = await cli(project(), ['all'], { FIXTURE_BAD: 'duplicate' });
  assert.is(duplicate.code, 2);
  assert.is(duplicate.stderr, '✗ two targets are named step:1\n  hint: target names must be unique; rename one, or register the target once\n');
  const cycle = await cli(project(), ['all'], { FIXTURE_BAD: 'cycle' });
  assert.is(cycle.code, 2);
  assert.is(cycle.stderr, '✗ dependency cycle: loop:a → loop:b → loop:a\n  hint: a target cannot depend on itself, even indirectly; remove one of these dependencies\n');
  assert.is(cycle.stdout, '');
});

test('build, no-op, dry run and explain', async () => {
  const root = project();
  const first = await cli(root, ['all']);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, /^▶ src:seed\n✓ src:seed \(\d+ms\)\n/);
  assert.match(first.stdout, /\n5 built, 0 up to date, 0 failed in \d+ms\n$/);
  const noop = await cli(root, ['all']);
  assert.match(noop.stdout, /^0 built, 5 up to date, 0 failed in \d+ms\n$/);
  const dry = await cli(root, ['step', '-n', '--force']);
  assert.match(dry.stdout, /^would build step:1: forced\nwould build step:2: forced\nwould build step:3: forced\ndry run: 3 would build, 1 up to date in \d+ms\n$/);
  // src:seed is precious: a changed input stops the run (a dry run says so too) instead of replacing it.
  write(root, 'seed.txt', 'changed');
  for (const args of [['all', '-n'], ['all']]) {
    const refused = await cli(root, args);
    assert.is(refused.code, 1);
    assert.match(refused.stderr, /^✗ src:seed is precious and would be replaced: input file seed.txt changed: [0-9a-f]{8} → [0-9a-f]{8}\n  hint: undo the change, or replace it on purpose with --force src:seed \(what was made from it is rebuilt too\)\n$/);
  }
  assert.equal(log(root).filter((l) => l === 'start src:seed').length, 1, 'not rebuilt');
  const explained = await cli(root, ['--force', 'src:seed', '--explain']);
  assert.match(explained.stdout, /^▶ src:seed: forced\n✓ src:seed/);
  // The seed's result did not change: early cutoff, nothing else runs.
  const after = await cli(root, ['all', '--explain']);
  assert.match(after.stdout, /^0 built, 5 up to date, 0 failed/);
  const forced = await cli(root, ['step', '--force', '--explain']);
  assert.match(forced.stdout, /▶ step:1: forced\n/);
  assert.match(forced.stdout, /3 built, 1 up to date, 0 failed/);
});

test('a failing build: one readable error with hint, exit 1; --verbose adds the stack', async () => {
  const root = project();
  const run = await cli(root, ['all', '--jobs', '1'], { FIXTURE_FAIL: 'step:2' });
  assert.is(run.code, 1);
  assert.is(run.stderr, `✗ step:2: build failed: step:2 was told to fail\n  hint: unset FIXTURE_FAIL\nthis run's output is in ${root}/output/last-run.log\n`);
  assert.match(run.stdout, /✗ step:2: step:2 was told to fail\n/);
  assert.match(run.stdout, /failed/);
  const verbose = await cli(root, ['all', '--verbose'], { FIXTURE_FAIL: 'step:2' });
  assert.match(verbose.stderr, /\n {4}StepError: step:2 was told to fail\n {8}at /);
  const kept = await cli(project(), ['all', '-k'], { FIXTURE_FAIL: 'step:2,step:3' });
  assert.is(kept.code, 1);
  assert.is(kept.stderr.match(/✗ /g)!.length, 2);
  assert.match(kept.stdout, /- final:join skipped: dependency step:2 failed/);
});

test("the last run's log: a real run's plain lines and errors as it goes; dry runs, usage errors and a refused run leave it", async () => {
  const root = project();
  const file = join(root, 'output/last-run.log');
  const failed = await cli(root, ['all', '-j', '1'], { FIXTURE_FAIL: 'final:join' });
  assert.is(failed.code, 1);
  const logged = readFileSync(file, 'utf8');
  assert.match(logged, /^# fixture all -j 1\n# started \d{4}-\d\d-\d\dT/);
  // The same lines the terminal got (plain here: not a TTY), then the error block and the summary.
  for (const line of failed.stdout.split('\n').filter(Boolean)) assert.ok(logged.includes(`${line}\n`), `log lacks ${JSON.stringify(line)}`);
  assert.match(logged, /✓ step:3 \(/);
  assert.match(logged, /✗ final:join: build failed: final:join was told to fail\n  hint: unset FIXTURE_FAIL\n/);
  assert.match(logged, /1 failed/);
  // Under the errors: where the log is, and the project's own hint for this failure.
  assert.match(failed.stderr, new RegExp(`this run's output is in ${root}/output/last-run.log\nthe join failed: look at out/\n$`));
  for (const args of [['all', '--dry-run'], ['stpe:1'], ['--help'], ['all', '--graph']]) {
    await cli(root, args, { FIXTURE_FAIL: 'final:join' });
    assert.is(readFileSync(file, 'utf8'), logged, `tasks ${args.join(' ')} changed the log`);
  }
  // A run refused because another holds the lock does not truncate that run's log.
  const gate = join(root, 'gate');
  const first = start(root, ['all', '-j', '1', '--force'], { FIXTURE_GATE: gate });
  await waitFor('the first run to log its first build', () => /^# fixture all -j 1 --force\n[^]*▶ final:join/.test(readFileSync(file, 'utf8')));
  const refused = await cli(root, ['all']);
  assert.is(refused.code, 1);
  assert.match(readFileSync(file, 'utf8'), /^# fixture all -j 1 --force\n/);
  assert.not.match(readFileSync(file, 'utf8'), /another run/);
  writeFileSync(gate, '');
  assert.is((await first.done).code, 0);
  assert.match(readFileSync(file, 'utf8'), /\n1 built, 4 up to date, 0 failed/);
});

test('the lock refuses a second run naming the first one\'s pid, and a stale lock is recovered', async () => {
  const root = project();
  // The first run's builds wait for the gate file, created only once the second run was refused: the
  // first run holds the lock all that time, however slowly either process starts.
  const gate = join(root, 'gate');
  const first = start(root, ['all', '-j', '1'], { FIXTURE_GATE: gate });
  await waitFor('the first build to start', () => log(root).length > 0);
  const second = await cli(root, ['all']);
  const during = log(root);
  writeFileSync(gate, '');
  assert.is(second.code, 1);
  assert.match(second.stderr, new RegExp(`^✗ another run \\(pid ${first.child.pid}\\) is using ${root}/output\\n  hint: wait for it to finish, or stop it \\(kill ${first.child.pid}\\)`));
  assert.equal(during, ['start src:seed'], 'the first run was still at its first build');
  const firstRun = await first.done;
  assert.is(firstRun.code, 0, firstRun.stderr);
  // A lock left by a process that is gone: taken over.
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => dead.on('close', resolve));
  writeFileSync(join(root, 'output/.harder/lock'), JSON.stringify({ pid: dead.pid, started: 'earlier' }));
  const third = await cli(root, ['all']);
  assert.is(third.code, 0, third.stderr);
  assert.not.ok(existsSync(join(root, 'output/.harder/lock')), 'released at the end');
});

test('commands generate targets; adding one more builds only it', async () => {
  const root = project();
  const run = await cli(root, ['echo', 'a', 'b']);
  assert.is(run.code, 0, run.stderr);
  assert.equal(log(root).sort(), ['start echo:a', 'start echo:b', 'start src:seed']);
  const before = log(root).length;
  await cli(root, ['echo', 'a', 'b', 'c']);
  assert.equal(log(root, before), ['start echo:c']);
});

test('a command\'s own flag reaches it alone; the targets it asks to rebuild are rebuilt whatever their key, with its reason', async () => {
  const root = project();
  assert.is((await cli(root, ['all'])).code, 0);
  const before = log(root).length;
  const dry = await cli(root, ['--plain', 'redo', '--why', 'testing', '-n']);
  assert.is(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /would build src:seed: asked: testing\n/);
  assert.equal(log(root, before), [], 'a dry run builds nothing');
  const run = await cli(root, ['--plain', '--explain', 'redo', '--why', 'testing']);
  assert.is(run.code, 0, run.stderr);
  assert.equal(log(root, before), ['start src:seed']);
  assert.match(run.stdout, /src:seed: asked: testing/);
  // The flag belongs to its command: with a target or another command it is a usage error, before anything runs.
  const wrong = await cli(root, ['all', '--why', 'x']);
  assert.is(wrong.code, 2);
  assert.match(wrong.stderr, /--why is a flag of redo only, not of all/);
  assert.equal(log(root, before), ['start src:seed']);
});

test('a passthrough command gets every argument after its name unparsed, and its exit code is the run\'s', async () => {
  const root = project();
  const argv = ['get', 'pods', '-n', 'kube-system', '--help', '-v', '6', '--dry-run', '--', '--exit', '3'];
  const run = await cli(root, ['--plain', 'args', ...argv]);
  assert.is(run.code, 3, run.stderr);
  assert.is(run.stdout, `${JSON.stringify(argv)}\n`);
  assert.is(run.stderr, '');
  // Flags before the name are still the CLI's; a flag it does not know is refused before anything runs.
  assert.is((await cli(root, ['--frobnicate', 'args', 'x'])).code, 2);
  // Only as the first positional: elsewhere `args` is an ordinary (here unknown) target and flags are parsed.
  const later = await cli(root, ['all', 'args', '--nope']);
  assert.is(later.code, 2);
  assert.match(later.stderr, /unknown flag --nope/);
});

test('notes: printed after the summary of a successful build, not after a dry run or a failure', async () => {
  const root = project();
  const env = { FIXTURE_NOTES: '1' };
  const run = await cli(root, ['all'], env);
  assert.match(run.stdout, /\n5 built, 0 up to date, 0 failed in \d+ms\nnext: use 6 targets\n$/);
  assert.match((await cli(root, ['all'], env)).stdout, /^0 built, 5 up to date, 0 failed in \d+ms\nnext: use 6 targets\n$/);
  assert.not.match((await cli(root, ['all', '-n', '--force'], env)).stdout, /next:/);
  assert.not.match((await cli(root, ['step'], env)).stdout, /next:/);
});

test('clean: precious needs --yes and lists what will be rebuilt; removes only owned files', async () => {
  const root = project();
  await cli(root, ['all']);
  write(root, 'out/mine.txt', 'not owned');
  const refused = await cli(root, ['clean:src']);
  assert.is(refused.code, 1);
  assert.is(refused.stderr, '✗ src:seed is precious: cleaning it invalidates what was made from it\n    removes: src:seed\n    will have to be rebuilt: final:join, step:1, step:2, step:3\n  hint: run again with --yes to clean anyway\n');
  const step = await cli(root, ['clean:step:1']);
  assert.is(step.stdout, 'removed state of step:1\nremoved out/step_1.txt\nwill have to be rebuilt (if the results change): final:join\n');
  const yes = await cli(root, ['clean:src', '--yes']);
  assert.is(yes.code, 0);
  assert.is(yes.stdout, 'removed state of src:seed\nremoved out/src_seed.txt\nwill have to be rebuilt (if the results change): final:join, step:2, step:3\n');
  // An alias cleans its members (here final:join), not their dependencies.
  const alias = await cli(root, ['clean:all']);
  assert.is(alias.stdout, 'removed state of final:join\nremoved out/final_join.txt\n');
  assert.ok(existsSync(join(root, 'out/mine.txt')));
  assert.ok(existsSync(join(root, 'out/step_2.txt')));
});

test('clean --dry-run says what it would remove and removes nothing, precious with --yes too', async () => {
  const root = project();
  await cli(root, ['all']);
  const step = await cli(root, ['clean:step:1', '--dry-run']);
  assert.is(step.code, 0, step.stderr);
  assert.is(step.stdout, 'would remove state of step:1\nwould remove out/step_1.txt\nwould have to be rebuilt (if the results change): final:join\ndry run: nothing removed\n');
  const precious = await cli(root, ['clean:src', '--dry-run', '--yes']);
  assert.is(precious.code, 0, precious.stderr);
  assert.match(precious.stdout, /^would remove state of src:seed\nwould remove out\/src_seed.txt\n/);
  const refused = await cli(root, ['clean:src', '-n']);
  assert.match(refused.stdout, /a real clean needs --yes: src:seed is precious\ndry run: nothing removed\n$/);
  assert.ok(existsSync(join(root, 'out/step_1.txt')));
  assert.ok(existsSync(join(root, 'out/src_seed.txt')));
  const noop = await cli(root, ['all']);
  assert.match(noop.stdout, /^0 built, 5 up to date, 0 failed/);
});

test('a drifted file mode is named and put back without a rebuild; a killed run\'s temp file is removed', async () => {
  const root = project();
  await cli(root, ['all']);
  const file = join(root, 'out/step_1.txt');
  const mode = statSync(file).mode & 0o777;
  chmodSync(file, 0o640 === mode ? 0o600 : 0o640);
  const drift = `mode of out/step_1.txt is ${0o640 === mode ? '0600' : '0640'}, want 0${mode.toString(8)}`;
  const dry = await cli(root, ['all', '-n']);
  assert.match(dry.stdout, `would repair step:1: ${drift}\n`);
  assert.match(dry.stdout, /dry run: 0 would build, 5 up to date \(1 would be repaired\)/);
  const run = await cli(root, ['all']);
  assert.is(run.stdout.split('\n')[0], `↺ step:1: ${drift} (repaired, not rebuilt)`);
  assert.match(run.stdout, /0 built, 5 up to date \(1 repaired\), 0 failed/);
  assert.is(statSync(file).mode & 0o777, mode);
  // A killed run's temp beside an owned file is removed by the next run, which says so.
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  write(root, `out/step_1.txt.${dead}.0.tmp`, 'half');
  const swept = await cli(root, ['all']);
  assert.match(swept.stdout, `\nremoved 1 temp file(s) left by killed runs: out/step_1.txt.${dead}.0.tmp\n`);
  assert.not.ok(existsSync(`${file}.${dead}.0.tmp`));
});

test('--graph prints DOT of the closure', async () => {
  const run = await cli(project(), ['--graph', 'step:1']);
  assert.is(run.code, 0);
  assert.match(run.stdout, /^digraph "targets" \{\n/);
  assert.match(run.stdout, /"src:seed" -> "step:1";/);
  assert.not.match(run.stdout, /final:join/);
});

/** Runs the fixture on a pseudo-terminal (util-linux `script`), returning what the terminal received. */
function onTerminal(root: string, args: string[], env: Record<string, string>): Promise<string> {
  const command = [process.execPath, '--import', 'tsx', fixture, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: repo, env: { ...process.env, FIXTURE_ROOT: root, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  return new Promise((resolve) => child.on('close', () => resolve(out)));
}

test('progress: a live status line on a terminal, plain lines when CI is set', async () => {
  const live = await onTerminal(project(), ['all', '-j', '2'], { FIXTURE_DELAY: '250', CI: '' });
  assert.match(live, /\r\x1b\[K\[0\/5\] \d+ms {2}running: src:seed/);
  assert.match(live, /running: step:\d, step:\d/);
  assert.match(live, /✓ final:join \(\d+ms\)/);
  assert.match(live, /5 built, 0 up to date, 0 failed in [\d.]+m?s/);
  const plain = await onTerminal(project(), ['all'], { CI: '1' });
  assert.not.match(plain, /\x1b\[K/);
  assert.match(plain, /▶ src:seed\r?\n✓ src:seed/);
});

/** Starts `all` one target at a time (300ms each), kills it while the third target builds. */
async function killMidBuild(signal: NodeJS.Signals): Promise<{ root: string; run: Run; finished: string[] }> {
  const root = project();
  const build = start(root, ['all', '-j', '1'], { FIXTURE_DELAY: '300' });
  await waitFor('the third target to start', () => log(root).length >= 3);
  build.child.kill(signal);
  const run = await build.done;
  // Targets that started before the one that was running when the kill arrived had finished.
  const started = log(root).map((l) => l.replace('start ', ''));
  return { root, run, finished: started.slice(0, -1) };
}

for (const signal of ['SIGINT', 'SIGKILL'] as const) {
  test(`killed with ${signal} mid-build: the rerun completes and rebuilds only what had not finished`, async () => {
    const { root, run, finished } = await killMidBuild(signal);
    if (signal === 'SIGINT') {
      assert.is(run.code, 130);
      assert.match(run.stderr, 'interrupted: stopping running targets');
      assert.not.ok(existsSync(join(root, 'output/.harder/lock')), 'SIGINT releases the lock');
    } else {
      assert.is(run.signal, 'SIGKILL');
      assert.ok(existsSync(join(root, 'output/.harder/lock')), 'SIGKILL leaves a stale lock behind');
    }
    assert.is(finished.length, 2);
    const before = log(root).length;
    const rerun = await cli(root, ['all', '--explain']);
    assert.is(rerun.code, 0, rerun.stderr);
    const rebuilt = log(root, before).map((l) => l.replace('start ', ''));
    const all = ['src:seed', 'step:1', 'step:2', 'step:3', 'final:join'];
    assert.equal(rebuilt.sort(), all.filter((t) => !finished.includes(t)).sort());
    assert.match(rerun.stdout, /3 built, 2 up to date, 0 failed/);
  });
}

test.run();
