// The cluster spec that lasts (issue 12), through the real CLI in a scratch project root: harder.config.ts, recorded flags (output/spec.json), `spec` and `spec --reset`. Only spec, --dry-run and --help-level runs: no Docker.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { scratchProjectRoot } from '../lib/scratch-root.ts';

const tsx = import.meta.resolve('tsx');
type Run = { code: number | null; stdout: string; stderr: string };

function tasks(root: string, args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', tsx, join(root, 'tasks.ts'), ...args], { cwd: root, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const roots: string[] = [];
function root(spec?: string): string {
  const dir = scratchProjectRoot('harder-spec-');
  roots.push(dir);
  if (spec !== undefined) writeFileSync(join(dir, 'harder.config.ts'), spec);
  return dir;
}
test.after(() => roots.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('✗ '));
/** The `spec` line of one field: `  <field>  <value>  ← <source>`. */
const fieldLine = (stdout: string, field: string): string => stdout.split('\n').find((l) => l.trimStart().startsWith(`${field} `)) ?? '';
const recorded = (dir: string): unknown => JSON.parse(readFileSync(join(dir, 'output', 'spec.json'), 'utf8')).flags;

test("a harder.config.ts field is used, typed through defineCluster, and `spec` names the file as its source", async () => {
  const dir = root(`import { defineCluster } from './tasks/config/define.ts';
export default defineCluster({ nodes: [{ name: 'cp-file', role: 'control-plane' }, { name: 'wk-file', role: 'worker' }] });
`);
  const spec = await tasks(dir, ['spec']);
  assert.is(spec.code, 0, spec.stderr);
  assert.match(fieldLine(spec.stdout, 'nodes'), 'wk-file');
  assert.match(fieldLine(spec.stdout, 'nodes'), '← file harder.config.ts');
  assert.match(fieldLine(spec.stdout, 'apiServerPort'), '← default');
  const plan = await tasks(dir, ['certs', '--dry-run']);
  assert.is(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, 'certs:kubelet:wk-file');
  assert.not.match(plan.stdout, 'certs:kubelet:worker-1');
  assert.not.ok(existsSync(join(dir, 'output', 'spec.json')), 'no flag, nothing recorded');
});

test('a bad spec file: each problem names the file and the field; a throw or a syntax error is one error naming the file', async () => {
  const bad = await tasks(root(`export default { apiServerPort: 99999, clusterName: 'Not_A_Label', workrIpStart: 30 };\n`), ['certs', '-n']);
  assert.is(bad.code, 2, bad.stderr);
  assert.equal(errorLines(bad.stderr).map((l) => l.split(': ').slice(0, 2).join(': ')).sort(), ['✗ harder.config.ts: apiServerPort', '✗ harder.config.ts: clusterName', '✗ harder.config.ts: workrIpStart']);
  assert.is(bad.stdout, '');
  for (const [what, text, detail] of [
    ['throws', `throw new Error('boom from the spec');\nexport default {};\n`, 'boom from the spec'],
    ['syntax error', `export default { clusterName: 'x', \n`, 'harder.config.ts:'],
    ['no default export', `export const spec = {};\n`, 'default export is missing'],
  ] as const) {
    const run = await tasks(root(text), ['spec']);
    assert.is(run.code, 2, `${what}: ${run.stderr}`);
    const lines = run.stderr.split('\n').filter((l) => l.startsWith('✗'));
    assert.is(lines.length, 1, `${what}: ${run.stderr}`);
    assert.ok(lines[0]!.startsWith('✗ harder.config.ts: '), `${what}: ${lines[0]}`);
    assert.match(lines[0]!, detail, what);
    assert.is(run.stdout, '', what);
  }
});

test('--workers 3 is recorded and a plain run keeps 3 workers; --dry-run records nothing; spec --reset forgets', async () => {
  const dir = root();
  const dry = await tasks(dir, ['certs', '--dry-run', '--workers', '3']);
  assert.is(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /spec: workers 2 → 3 \(would be recorded/);
  assert.match(dry.stdout, 'certs:kubelet:worker-3');
  assert.not.ok(existsSync(join(dir, 'output', 'spec.json')), 'a dry run records nothing');
  assert.not.match((await tasks(dir, ['certs', '-n'])).stdout, 'certs:kubelet:worker-3', 'the dry run changed nothing');

  const set = await tasks(dir, ['spec', '--workers', '3']);
  assert.is(set.code, 0, set.stderr);
  assert.match(set.stdout, 'spec: workers 2 → 3 (recorded in output/spec.json)');
  assert.equal(recorded(dir), { workers: 3 });

  const plain = await tasks(dir, ['spec']);
  assert.match(fieldLine(plain.stdout, 'nodes'), 'worker-3');
  assert.match(fieldLine(plain.stdout, 'nodes'), 'recorded flag --workers 3 (output/spec.json)');
  assert.match(fieldLine(plain.stdout, 'binarySource'), '← default');
  const again = await tasks(dir, ['certs', '-n']);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, 'certs:kubelet:worker-3', 'a flag not repeated does not shrink the cluster');

  const reset = await tasks(dir, ['spec', '--reset']);
  assert.is(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /spec: workers 3 → 2 .*forgot the recorded --workers 3/);
  assert.not.match(fieldLine(reset.stdout, 'nodes'), 'worker-3');
  assert.equal(recorded(dir), {});
  assert.not.match((await tasks(dir, ['certs', '-n'])).stdout, 'certs:kubelet:worker-3');
});

test('a recorded flag wins over the spec file and the run warns once, naming both and how to drop it', async () => {
  const dir = root(`export default { nodes: [{ name: 'controller-1', role: 'control-plane' }, { name: 'worker-1', role: 'worker' }] };\n`);
  assert.is((await tasks(dir, ['spec', '--workers', '3'])).code, 0);
  const run = await tasks(dir, ['spec']);
  assert.is(run.code, 0, run.stderr);
  const warnings = run.stderr.split('\n').filter((l) => l.startsWith('warning: '));
  assert.is(warnings.length, 1, run.stderr);
  assert.match(warnings[0]!, 'recorded --workers 3 wins over harder.config.ts (workers 1)');
  assert.match(warnings[0]!, '--workers 1');
  assert.match(warnings[0]!, 'spec --reset');
  assert.match(fieldLine(run.stdout, 'nodes'), 'worker-3');
  // The flag again with the file's value forgets the record: the file is followed from then on.
  const back = await tasks(dir, ['spec', '--workers', '1']);
  assert.equal(recorded(dir), {});
  assert.not.match(fieldLine(back.stdout, 'nodes'), 'worker-2');
});

test('--name b: --help lists the flag; b\'s recorded flags live in output/clusters/b/spec.json, apart from the default cluster\'s', async () => {
  const dir = root();
  const help = await tasks(dir, ['--help']);
  assert.is(help.code, 0, help.stderr);
  assert.match(help.stdout, /^  --name NAME +the cluster to work on/m);
  const b = await tasks(dir, ['spec', '--name', 'b', '--workers', '3']);
  assert.is(b.code, 0, b.stderr);
  assert.match(b.stdout, 'cluster: b (state in output/clusters/b/)');
  const bRecord = JSON.parse(readFileSync(join(dir, 'output', 'clusters', 'b', 'spec.json'), 'utf8'));
  assert.equal(bRecord.flags, { workers: 3 });
  assert.is(bRecord.spec.clusterName, 'b');
  assert.not.ok(existsSync(join(dir, 'output', 'spec.json')), 'the default cluster records nothing');
  const plain = await tasks(dir, ['spec']);
  assert.match(plain.stdout, 'cluster: harder (state in output/)');
  assert.not.match(fieldLine(plain.stdout, 'nodes'), 'worker-3');
  const again = await tasks(dir, ['spec', '--name', 'b']);
  assert.match(fieldLine(again.stdout, 'nodes'), 'worker-3');
  assert.match(fieldLine(again.stdout, 'nodes'), 'recorded flag --workers 3 (output/clusters/b/spec.json)');
  assert.match(fieldLine(again.stdout, 'clusterName'), '← flag --name b');
  const reset = await tasks(dir, ['spec', '--name', 'b', '--reset']);
  assert.is(reset.code, 0, reset.stderr);
  assert.equal(JSON.parse(readFileSync(join(dir, 'output', 'clusters', 'b', 'spec.json'), 'utf8')).flags, {});
  const bad = await tasks(dir, ['spec', '--name', '../up']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, '--name "../up": "../up" is not a DNS label');
  assert.not.ok(existsSync(join(dir, 'up')) || existsSync(join(dir, 'output', 'up')), 'no directory made for a bad name');
});

test.run();
