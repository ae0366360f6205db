// `tasks.ts load <image…>` checks its arguments before anything builds: an image reference Docker's grammar
// refuses (an empty one from an unset shell variable, upper case, spaces) is a usage error (exit 2) naming
// the argument, and an image Docker says it does not have is one too, before any node target is made.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { rmSync } from 'node:fs';
import { engineEndpoint, enginePing } from '../../lib/docker/engine-api.ts';
import { imageRefProblem, normalizeImageRef } from '../../lib/docker/load-image.ts';
import { defaultConfig } from '../../tasks/config/config.ts';
import { loadCommand } from '../../tasks/images/cluster-images.ts';
import { projectTargets } from '../../tasks/index.ts';
import { scratchProjectRoot } from '../lib/scratch-root.ts';

const VALID = ['nginx', 'nginx:1.27', 'harder.local/echo:1', 'localhost:5000/team/app:v1', 'registry.k8s.io/pause:3.10.1', `nginx@sha256:${'a'.repeat(64)}`, `a_b__c-d.e/f:tag_1.2-x@sha256:${'0'.repeat(64)}`, '10.0.0.1:5000/x'];
const INVALID = ['', ' ', 'Nginx', 'team/App:1', 'nginx:', ':1', 'a b', 'nginx:with space', 'x@sha256:zz', '-x', 'a//b', 'https://registry/x', 'x:' + 't'.repeat(129)];

test('image references: Docker\'s grammar, and containerd\'s names for valid ones are valid too', () => {
  for (const ref of VALID) {
    assert.is(imageRefProblem(ref), undefined, ref);
    assert.is(imageRefProblem(normalizeImageRef(ref)), undefined, `containerd's name for ${ref}`);
  }
  for (const ref of INVALID) assert.type(imageRefProblem(ref), 'string', JSON.stringify(ref));
  assert.is(imageRefProblem(''), 'the image name is empty ("")');
  assert.is(imageRefProblem('Nginx:1'), '"Nginx:1" is not an image reference: repository names are lowercase');
});

/** The usage error `load` raises for these arguments (its kind and message), or undefined when it accepts them. */
async function refusal(args: string[]): Promise<{ kind: string; message: string } | undefined> {
  const registry = projectTargets(defaultConfig);
  try {
    await loadCommand().targets(args, defaultConfig, registry, { flags: {}, root: process.cwd(), outDir: 'output' });
    return undefined;
  } catch (error) {
    const e = error as { kind?: string; message: string };
    return { kind: String(e.kind), message: e.message };
  }
}

test('load refuses a bad reference naming the argument, before looking for nodes or images', async () => {
  assert.equal(await refusal(['']), { kind: 'bad-command-args', message: 'load: argument 1: the image name is empty ("")' });
  assert.equal(await refusal(['harder.local/echo:1', 'Bad:1']), { kind: 'bad-command-args', message: 'load: argument 2: "Bad:1" is not an image reference: repository names are lowercase' });
  assert.equal(await refusal([]), { kind: 'bad-command-args', message: 'load needs at least one image name' });
});

test('load refuses an image Docker does not have (when Docker answers), before any node builds', async () => {
  let answers = engineEndpoint() !== undefined;
  if (answers) answers = await enginePing(2000).then(() => true, () => false);
  const missing = await refusal(['harder.local/no-such-image-for-tests:0']);
  if (answers) assert.equal(missing, { kind: 'bad-command-args', message: 'Docker has no image harder.local/no-such-image-for-tests:0: nothing to load' });
  else assert.is(missing, undefined, 'without Docker the check is left to the build');
});

test('through the CLI: `load \'\'` exits 2 with the problem and builds nothing', async () => {
  const root = scratchProjectRoot('harder-load-args-');
  try {
    const run = await execa('npx', ['tsx', 'tasks.ts', 'load', '', '--plain'], { cwd: root, reject: false, all: true, timeout: 120_000 });
    assert.is(run.exitCode, 2, String(run.all));
    assert.match(String(run.all), /^✗ load: argument 1: the image name is empty \(""\)\n  hint: /);
    assert.not.match(String(run.all), /✓|ENOTFOUND/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
