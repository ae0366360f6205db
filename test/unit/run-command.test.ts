// The shared command runner against real programs: output and progress lines, a failing command's facts, a
// missing program; and runGo (through goVersion) and kubectl failing with the very same error type.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { goVersion } from '../../lib/go-build.ts';
import { NodeCommandError } from '../../lib/errors.ts';
import { CommandError, ToolMissingError, runCommand, runCommandResult } from '../../lib/run-command.ts';
import { kubectlRunner } from '../../tasks/cluster/kubectl.ts';

const dir = mkdtempSync(join(tmpdir(), 'harder-run-command-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A shell script standing in for a program (go, kubectl): prints to both streams and exits `code`. */
function fakeProgram(name: string, code: number): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "stdout of $1"\necho "$1: something broke" >&2\necho "see above" >&2\nexit ${code}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return assert.unreachable('should have thrown');
}

test('returns what stdout and stderr wrote and streams each line of each', async () => {
  const lines: string[] = [];
  const out = await runCommand(['sh', '-c', 'echo one; sleep 0.1; echo two >&2; sleep 0.1; printf three'], { onLine: (l) => lines.push(l) });
  assert.is(out, 'one\ntwo\nthree');
  assert.equal(lines, ['one', 'two', 'three']);
});

test('passes env on top of the environment, and input on stdin; keeps stdout and stderr apart too', async () => {
  const out = await runCommand(['sh', '-c', 'echo "$HARDER_T_X:${PATH:+path}"'], { env: { HARDER_T_X: 'set' } });
  assert.is(out, 'set:path\n');
  const result = await runCommandResult(['sh', '-c', 'cat; echo err >&2'], { input: 'from stdin\n' });
  assert.equal([result.stdout, result.stderr, result.exitCode], ['from stdin\n', 'err\n', 0]);
});

test('a failing command carries argv, exit code and its last lines, with the fail hint', async () => {
  const argv = ['sh', '-c', 'for i in 1 2 3 4; do echo line$i; done; exit 3'];
  const e = (await rejection(runCommand(argv, { tailLines: 2, failHint: 'try again' }))) as CommandError;
  assert.instance(e, CommandError);
  assert.is(e.kind, 'command-failed');
  assert.equal(e.facts, { argv, exitCode: 3, tail: ['line3', 'line4'] });
  assert.is(e.message, "`sh -c 'for i in 1 2 3 4; do echo line$i; done; exit 3'` exited 3:\nline3\nline4");
  assert.is(e.hint, 'try again');
  assert.is(e.output, 'line1\nline2\nline3\nline4\n');
});

test('allowFailure returns the exit code; a timeout is a failure that says so', async () => {
  const soft = await runCommandResult(['sh', '-c', 'echo out; exit 4'], { allowFailure: true });
  assert.equal([soft.exitCode, soft.all], [4, 'out\n']);
  const e = (await rejection(runCommand(['sleep', '5'], { timeoutMs: 200 }))) as CommandError;
  assert.instance(e, CommandError);
  assert.is(e.exitCode, undefined);
  assert.is(e.facts.reason, 'timed out after 0.2 s');
  assert.match(e.message, /^`sleep 5` timed out after 0.2 s \(no output\)$/);
});

test('a missing program is a ToolMissingError with the install hint; a missing working directory is said as such', async () => {
  const e = (await rejection(runCommand(['harder-no-such-program'], { missingHint: 'apt-get install it' }))) as ToolMissingError;
  assert.instance(e, ToolMissingError);
  assert.is(e.kind, 'tool-missing');
  assert.is(e.program, 'harder-no-such-program');
  assert.is(e.message, '`harder-no-such-program` is not installed (not found on PATH)');
  assert.is(e.hint, 'apt-get install it');
  const path = (await rejection(runCommand(['/nonexistent/tool']))) as ToolMissingError;
  assert.is(path.message, '`/nonexistent/tool` does not exist');
  const cwd = (await rejection(runCommand(['true'], { cwd: join(dir, 'gone') }))) as CommandError;
  assert.instance(cwd, CommandError);
  assert.is(cwd.facts.reason, `could not start: ${join(dir, 'gone')} does not exist`);
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

test('runGo, kubectl and a command in a node fail with the one error type of runCommand', async () => {
  const saved = process.env.GO;
  try {
    const go = fakeProgram('go', 2);
    process.env.GO = go;
    const fromGo = (await rejection(goVersion())) as CommandError;
    const fromRun = (await rejection(runCommand([go, 'env', 'GOVERSION']))) as CommandError;
    for (const e of [fromGo, fromRun]) {
      assert.is(e.constructor, CommandError);
      assert.is(e.kind, 'command-failed');
      assert.equal(e.argv, [go, 'env', 'GOVERSION']);
      assert.is(e.exitCode, 2);
      assert.equal(e.tail, ['stdout of env', 'env: something broke', 'see above']);
    }
    assert.is(fromGo.message, fromRun.message);
    process.env.GO = join(dir, 'no-go');
    const missing = (await rejection(goVersion('install go'))) as ToolMissingError;
    assert.instance(missing, ToolMissingError);
    assert.is(missing.message, `the Go toolchain is not installed: \`${join(dir, 'no-go')}\` was not found`);
    assert.is(missing.hint, 'install go');
  } finally {
    if (saved === undefined) delete process.env.GO;
    else process.env.GO = saved;
  }
  const kubectl = kubectlRunner(fakeProgram('kubectl', 1), '/k/admin.kubeconfig');
  const fromKubectl = (await rejection(kubectl(['get', 'nodes']))) as CommandError;
  assert.is(fromKubectl.constructor, CommandError);
  assert.equal(fromKubectl.argv.slice(1), ['--kubeconfig', '/k/admin.kubeconfig', 'get', 'nodes']);
  assert.is(fromKubectl.exitCode, 1);
  assert.equal((await kubectl(['get', 'nodes'], { allowFailure: true })).exitCode, 1);
  assert.equal((await kubectl(['get', 'nodes'], { allowFailure: true })).stdout, 'stdout of --kubeconfig');
  const inNode = new NodeCommandError('harder-worker-1', ['systemctl', 'start', 'kubelet'], 5, 'Job failed.\n');
  assert.instance(inNode, CommandError);
  assert.is(inNode.kind, 'command-failed');
  assert.equal(inNode.facts, { argv: ['systemctl', 'start', 'kubelet'], exitCode: 5, node: 'harder-worker-1', tail: ['Job failed.'] });
  assert.is(inNode.message, 'harder-worker-1: `systemctl start kubelet` exited 5:\nJob failed.');
});

test.run();
