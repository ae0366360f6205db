// The cluster spec through the real CLI, on real node containers (nodes only: no Kubernetes is needed to
// prove what the spec decides): a harder.config.ts file, a flag that is recorded and kept by a plain run,
// a lower --workers that removes nothing without --yes (asked again by the next plain run), a dry run
// that records nothing, `spec --reset`,
// and bad spec files that stop the run with one line per problem and change nothing. Own cluster
// (harder-t-spec, 10.248.0.0/24) in a scratch project root; removed by label in test.after and on exit.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execa } from 'execa';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchProjectRoot } from '../lib/scratch-root.ts';
import { cleanUpOnExit, removeByLabelSync } from '../lib/docker-cleanup.ts';

const CLUSTER = 'harder-t-spec';
const LABEL = `label=harder.cluster=${CLUSTER}`;
const root = scratchProjectRoot('harder-t-spec-');
const specFile = join(root, 'harder.config.ts');
const recordFile = join(root, 'output', 'spec.json');

/** Writes the scratch root's harder.config.ts (a file of its own, never the repository's). */
function writeSpec(body: string): void {
  rmSync(specFile, { force: true });
  writeFileSync(specFile, `import { defineCluster } from './tasks/config/define.ts';\nimport { defaultNodes } from './tasks/config/config.ts';\n\n${body}\n`);
}
const GOOD_SPEC = `export default defineCluster({\n  clusterName: '${CLUSTER}',\n  nodeSubnet: '10.248.0.0/24',\n  nodes: defaultNodes({ controlPlanes: 1, workers: 1 }),\n});`;
writeSpec(GOOD_SPEC);

const exitCleanup = cleanUpOnExit(LABEL, [root]);

type Run = { code: number; output: string; built: string[] };

async function cli(...args: string[]): Promise<Run> {
  const started = performance.now();
  const res = await execa('npx', ['tsx', 'tasks.ts', ...args, '--plain'], { cwd: root, reject: false, all: true, timeout: 15 * 60_000, env: { NO_COLOR: '1' } });
  const output = String(res.all ?? '');
  const built = [...output.matchAll(/^✓ (\S+) \(/gm)].map((m) => m[1]!);
  process.stdout.write(`\n$ tasks.ts ${args.join(' ')} → exit ${res.exitCode} in ${((performance.now() - started) / 1000).toFixed(1)} s, built ${built.length}\n${output.split('\n').filter((l) => /^(spec|warning|error|✗)|harder\.config|would remove/.test(l)).join('\n')}\n`);
  return { code: res.exitCode ?? -1, output, built };
}

async function containers(): Promise<string[]> {
  const res = await execa('docker', ['ps', '-a', '--filter', LABEL, '--format', '{{.Names}}'], { reject: false });
  return res.stdout.split('\n').filter(Boolean).sort();
}

const names = (...nodes: string[]) => nodes.map((n) => `${CLUSTER}-${n}`).sort();
const readRecord = () => readFileSync(recordFile, 'utf8');

test.before(() => removeByLabelSync(LABEL));

test('the spec file decides the nodes; --workers 2 is recorded and a plain run keeps two workers', async () => {
  let run = await cli('nodes');
  assert.is(run.code, 0, run.output.slice(-2000));
  assert.equal(await containers(), names('controller-1', 'worker-1'));

  run = await cli('nodes', '--workers', '2');
  assert.is(run.code, 0, run.output.slice(-2000));
  assert.match(run.output, /^spec: workers 1 → 2 \(recorded in output\/spec\.json\)/m);
  assert.equal(await containers(), names('controller-1', 'worker-1', 'worker-2'));
  assert.equal(JSON.parse(readRecord()).flags, { workers: 2 });

  run = await cli('nodes');
  assert.is(run.code, 0, run.output.slice(-2000));
  assert.equal(run.built, [], 'a plain run after --workers 2 builds nothing');
  assert.not.match(run.output, /^spec: /m);
  assert.equal(await containers(), names('controller-1', 'worker-1', 'worker-2'));

  const spec = await cli('spec');
  assert.is(spec.code, 0, spec.output);
  assert.match(spec.output, /recorded flag --workers 2/);
  assert.match(spec.output, /nodeSubnet.*10\.248\.0\.0\/24.*harder\.config\.ts/);
});

test('a lower --workers removes nothing without --yes; a dry run records nothing', async () => {
  const before = readRecord();
  const dry = await cli('cluster', '--workers', '1', '--dry-run');
  assert.is(dry.code, 0, dry.output.slice(-2000));
  assert.match(dry.output, /remove:node:worker-2/);
  // --workers 1 is the file's own value: the run would forget the recorded --workers 2, and says so.
  assert.match(dry.output, /^spec: workers 2 → 1 \(the value of harder\.config\.ts; would forget the recorded --workers 2, dry run: nothing changed\)/m);
  assert.is(readRecord(), before, 'the dry run wrote output/spec.json');
  assert.equal(await containers(), names('controller-1', 'worker-1', 'worker-2'));

  // The real run records the spec change, then stops before changing the cluster: removing a node needs --yes.
  const refused = await cli('cluster', '--workers', '1');
  assert.is.not(refused.code, 0, refused.output.slice(-2000));
  assert.match(refused.output, /would remove[^\n]*worker-2[^\n]*--yes/);
  assert.equal(refused.built, []);
  assert.equal(await containers(), names('controller-1', 'worker-1', 'worker-2'));
  // A plain run asks again: the change is remembered, the removal still waits for --yes.
  const again = await cli('cluster');
  assert.is.not(again.code, 0, again.output.slice(-2000));
  assert.match(again.output, /would remove[^\n]*worker-2[^\n]*--yes/);
  assert.equal(await containers(), names('controller-1', 'worker-1', 'worker-2'));
});

test('a bad spec file: one line per problem naming the file and the field; nothing changes', async () => {
  const before = readRecord();
  writeSpec(`export default defineCluster({\n  clusterName: '${CLUSTER}',\n  nodeSubnet: '10.248.0.0/33',\n  apiServerPort: 70000,\n  nodes: defaultNodes({ controlPlanes: 1, workers: 1 }),\n});`);
  let run = await cli('nodes');
  assert.is(run.code, 2, run.output.slice(-2000));
  assert.match(run.output, /harder\.config\.ts: nodeSubnet: /);
  assert.match(run.output, /harder\.config\.ts: apiServerPort: /);
  assert.equal(run.built, []);

  writeSpec(`export default defineCluster({\n  clusterName: '${CLUSTER}',,\n});`);
  run = await cli('nodes');
  assert.is(run.code, 2, run.output.slice(-2000));
  assert.match(run.output, /harder\.config\.ts: cannot be loaded/);
  assert.equal(run.built, []);

  assert.is(readRecord(), before);
  assert.equal(await containers(), names('controller-1', 'worker-1', 'worker-2'));
  writeSpec(GOOD_SPEC);
});

test('spec --reset forgets recorded flags: the file speaks again', async () => {
  const recorded = await cli('spec', '--workers', '3');
  assert.is(recorded.code, 0, recorded.output);
  assert.equal(JSON.parse(readRecord()).flags, { workers: 3 });
  const reset = await cli('spec', '--reset');
  assert.is(reset.code, 0, reset.output);
  assert.match(reset.output, /forgot the recorded --workers 3/);
  assert.equal(JSON.parse(readRecord()).flags, {});
  // The file says one worker: the `nodes` step never removes a node by itself (remove:node is part of `cluster`).
  const run = await cli('nodes');
  assert.is(run.code, 0, run.output.slice(-2000));
  assert.equal(await containers(), names('controller-1', 'worker-1', 'worker-2'));
});

test.after(async () => {
  await execa('npx', ['tsx', 'tasks.ts', 'clean:nodes', '--yes', '--plain'], { cwd: root, reject: false, timeout: 300_000 });
  removeByLabelSync(LABEL);
  exitCleanup.done();
});

test.run();
