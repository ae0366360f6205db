// runCommand against real programs: output and progress lines, a failing command's message, a missing program.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CommandError, runCommand } from '../../lib/run-command.ts';

test('returns what stdout and stderr wrote and streams each line of each', async () => {
  const lines: string[] = [];
  const out = await runCommand(['sh', '-c', 'echo one; sleep 0.1; echo two >&2; sleep 0.1; printf three'], { onLine: (l) => lines.push(l) });
  assert.is(out, 'one\ntwo\nthree');
  assert.equal(lines, ['one', 'two', 'three']);
});

test('passes env on top of the environment', async () => {
  const out = await runCommand(['sh', '-c', 'echo "$HARDER_T_X:${PATH:+path}"'], { env: { HARDER_T_X: 'set' } });
  assert.is(out, 'set:path\n');
});

test('a failing command names argv, exit code and its last lines, with the fail hint', async () => {
  try {
    await runCommand(['sh', '-c', 'for i in 1 2 3 4; do echo line$i; done; exit 3'], { tailLines: 2, failHint: 'try again' });
    assert.unreachable('should throw');
  } catch (error) {
    assert.instance(error, CommandError);
    const e = error as CommandError;
    assert.is(e.exitCode, 3);
    assert.is(e.message, '`sh -c for i in 1 2 3 4; do echo line$i; done; exit 3` exited 3:\nline3\nline4');
    assert.is(e.hint, 'try again');
  }
});

test('a missing program gets the install hint', async () => {
  try {
    await runCommand(['harder-no-such-program'], { missingHint: 'apt-get install it' });
    assert.unreachable('should throw');
  } catch (error) {
    assert.instance(error, CommandError);
    assert.is((error as CommandError).message, '`harder-no-such-program` is not installed (not found on PATH)');
    assert.is((error as CommandError).hint, 'apt-get install it');
  }
});

test('an aborted signal stops the command and rejects', async () => {
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 100);
  await runCommand(['sleep', '5'], { signal: controller.signal }).then(
    () => assert.unreachable('should reject'),
    () => undefined,
  );
  assert.ok(Date.now() - started < 3000, 'stopped well before sleep ended');
});

test.run();
