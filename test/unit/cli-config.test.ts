// The project's CLI (tasks.ts) with a --config file, as a user runs it: a child process whose current
// directory is a temp dir holding the file. Only runs that stop before building anything (a bad config,
// --help): nothing here touches Docker or the project's output directory.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempProject, write } from '../fixtures/engine/helpers.ts';

const repo = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
// `--import tsx` would be resolved from the child's current directory, which is not the repo.
const tsx = import.meta.resolve('tsx');

type Run = { code: number | null; stdout: string; stderr: string };

function tasks(cwd: string, args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', tsx, join(repo, 'tasks.ts'), ...args], { cwd, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A temp dir holding cluster.json with these fields. */
function dirWith(fields: Record<string, unknown>): string {
  const dir = tempProject('cli-config');
  write(dir, 'cluster.json', JSON.stringify(fields));
  return dir;
}

/** The absolute path of a cluster.json with these fields (most tests: so they test one thing, not also where the path starts). */
function fileWith(fields: Record<string, unknown>): string {
  return join(dirWith(fields), 'cluster.json');
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('✗ '));

test('IP plan errors are the user\'s: exit 2, the file and the field named, no "internal error"', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ serviceCidr: '10.200.0.0/24', clusterDnsIp: '10.200.0.10' }, 'serviceCidr'],
    [{ serviceCidr: '10.32.0.1/24' }, 'serviceCidr'],
    [{ clusterDnsIp: '10.99.0.10' }, 'clusterDnsIp'],
    [{ nodes: [{ name: 'Controller_1', role: 'control-plane' }] }, 'nodes[0].name'],
    [{ nodes: [{ name: 'a', role: 'control-plane' }, { name: 'a', role: 'worker' }] }, 'nodes[1].name'],
    [{ controlPlaneIpStart: 20 }, 'workerIpStart'],
  ];
  for (const [fields, field] of cases) {
    const file = fileWith(fields);
    const run = await tasks(dirname(file), ['net:plan', '--dry-run', '--config', file]);
    const what = JSON.stringify(fields);
    assert.is(run.code, 2, `${what}: ${run.stderr}`);
    assert.not.match(run.stderr, 'internal error', what);
    assert.equal(errorLines(run.stderr).map((l) => l.split(': ').slice(0, 2).join(': ')), [`✗ ${file}: ${field}`], `${what}: ${run.stderr}`);
    assert.match(errorLines(run.stderr)[0]!, /; ./, `${what}: says what would be valid`);
    assert.is(run.stdout, '', `${what}: nothing built or planned`);
  }
});

test('--graph and --help with a bad config: --graph exits 2 with the problem; --help still prints help', async () => {
  const file = fileWith({ serviceCidr: '10.200.0.0/24' });
  const graph = await tasks(dirname(file), ['--graph', '--config', file]);
  assert.is(graph.code, 2);
  assert.is(graph.stdout, '');
  assert.match(graph.stderr, new RegExp(`^✗ ${escape(file)}: serviceCidr: `));
  const help = await tasks(dirname(file), ['--help', '--config', file]);
  assert.match(help.stdout, /^Usage: npx tsx tasks\.ts /);
  assert.match(help.stdout, /--config FILE/);
  assert.match(help.stderr, new RegExp(`^✗ ${escape(file)}: serviceCidr: `, 'm'));
  assert.not.match(help.stderr, 'internal error');
  assert.is(help.code, 2, 'the options are still invalid');
});

test('apiServerPort 99999, -1, 6443.5 and an empty clusterName, accepted without a word before, are refused', async () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ apiServerPort: 99999 }, 'apiServerPort'],
    [{ apiServerPort: -1 }, 'apiServerPort'],
    [{ apiServerPort: 6443.5 }, 'apiServerPort'],
    [{ clusterName: '' }, 'clusterName'],
  ];
  for (const [fields, field] of cases) {
    const file = fileWith(fields);
    const run = await tasks(dirname(file), ['net:plan', '-n', '--config', file]);
    assert.is(run.code, 2, run.stderr);
    assert.ok(run.stderr.startsWith(`✗ ${file}: ${field}: `), run.stderr);
  }
});

test('every problem of the file at once, one line each, an unknown field with a suggestion', async () => {
  const file = fileWith({ apiServerPort: 99999, clusterName: '', workrIpStart: 30 });
  const run = await tasks(dirname(file), ['net:plan', '-n', '--config', file]);
  assert.is(run.code, 2);
  const lines = errorLines(run.stderr);
  assert.equal(lines.map((l) => l.split(': ')[1]).sort(), ['apiServerPort', 'clusterName', 'workrIpStart']);
  for (const line of lines) assert.ok(line.startsWith(`✗ ${file}: `), line);
  assert.match(lines.find((l) => l.includes('workrIpStart'))!, 'did you mean workerIpStart?');
});

test('--config is relative to the current directory, like any CLI\'s path argument', async () => {
  // Node names only this file uses: --help lists their targets, so the file was read from the cwd.
  const dir = dirWith({ nodes: [{ name: 'cp-from-cwd', role: 'control-plane' }, { name: 'wk-from-cwd', role: 'worker' }] });
  const run = await tasks(dir, ['--help', '--config', 'cluster.json']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, 'node:cp-from-cwd');
  assert.match(run.stdout, 'node:wk-from-cwd');
  const missing = await tasks(dir, ['net:plan', '-n', '--config', 'no-such.json']);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /^✗ --config no-such\.json: no such file/);
  assert.match(missing.stderr, join(dir, 'no-such.json'));
  write(dir, 'broken.json', '{"clusterName": ');
  const broken = await tasks(dir, ['net:plan', '-n', '--config', 'broken.json']);
  assert.is(broken.code, 2);
  assert.match(broken.stderr, /^✗ --config broken\.json: not valid JSON/);
  assert.is(errorLines(broken.stderr).length, 1);
});

test('an even number of control planes warns (once, naming the source) and does not stop the run', async () => {
  const file = fileWith({ nodes: [{ name: 'c1', role: 'control-plane' }, { name: 'c2', role: 'control-plane' }, { name: 'w1', role: 'worker' }] });
  const run = await tasks(dirname(file), ['--help', '--config', file]);
  assert.is(run.code, 0, run.stderr);
  const warnings = run.stderr.split('\n').filter((l) => l.startsWith('warning: '));
  assert.is(warnings.length, 1, run.stderr);
  assert.ok(warnings[0]!.startsWith(`warning: ${file}: nodes: `), warnings[0]);
  const flag = await tasks(dirname(file), ['--help', '--control-planes', '4']);
  assert.match(flag.stderr, /^warning: --control-planes 4: /);
});

test('-j -1 is refused as a number and an empty target name is named as such', async () => {
  const dir = tempProject('cli-config');
  const jobs = await tasks(dir, ['net:plan', '-n', '-j', '-1']);
  assert.is(jobs.code, 2);
  assert.is(jobs.stderr, '✗ -j wants a whole number ≥ 1, got "-1"\n');
  const empty = await tasks(dir, ['', '-n']);
  assert.is(empty.code, 2);
  assert.match(empty.stderr, /^✗ empty target name/);
});

test.run();
