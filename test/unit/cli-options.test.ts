// Project flags → ClusterConfig (tasks/config/options.ts), argument parsing, and the runner's uvu summary parser.

import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs } from '../../lib/cli/args.ts';
import { CliError, ConfigError, OptionError } from '../../lib/errors.ts';
import { defaultConfig } from '../../tasks/config/config.ts';
import { configFromFlags, projectFlags } from '../../tasks/config/options.ts';
import { tempProject, write } from '../fixtures/engine/helpers.ts';
import { parseSummary } from '../uvu-summary.ts';

function optionError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.instance(error, OptionError);
    const e = error as OptionError;
    return e.hint ? `${e.message} | ${e.hint}` : e.message;
  }
  throw new Error('expected an OptionError');
}

/** The lines of the ConfigError this throws: every problem found, one line each. */
function configLines(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.instance(error, ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

test('defaults, counts and binaries', () => {
  assert.equal(configFromFlags({}), defaultConfig);
  const config = configFromFlags({ 'control-planes': '3', workers: '3', binaries: 'go' });
  assert.equal(config.nodes.map((n) => n.name), ['controller-1', 'controller-2', 'controller-3', 'worker-1', 'worker-2', 'worker-3']);
  assert.is(config.binarySource, 'go');
  assert.equal(defaultConfig.nodes.length, 3, 'defaults are not mutated');
});

test('invalid flag values: each named with what would be valid, all reported together', () => {
  assert.equal(configLines(() => configFromFlags({ workers: 'two' })), ['--workers wants a whole number from 1 to 50, got "two"']);
  assert.equal(configLines(() => configFromFlags({ workers: '0' })), ['--workers 0 is out of range; use 1..50']);
  assert.equal(configLines(() => configFromFlags({ 'control-planes': '0' })), ['--control-planes 0 is out of range; use 1..9']);
  assert.equal(configLines(() => configFromFlags({ binaries: 'http' })), ['--binaries http is not a binary source; use one of auto, release, dir, go']);
  assert.is(configLines(() => configFromFlags({ workers: '-1', 'control-planes': 'x', binaries: 'http' })).length, 3);
});

test('an even number of control planes is a warning naming the flag, and the config is still made', () => {
  const warned: string[] = [];
  const config = configFromFlags({ 'control-planes': '2' }, undefined, { warn: (line) => warned.push(line) });
  assert.is(config.nodes.filter((n) => n.role === 'control-plane').length, 2);
  assert.is(warned.length, 1);
  assert.match(warned[0]!, /^--control-planes 2: /);
  assert.match(warned[0]!, /odd/);
  configFromFlags({ 'control-planes': '3' }, undefined, { warn: (line) => assert.unreachable(line) });
});

test('--config FILE is found relative to the current directory, overrides fields, and flags win', () => {
  const cwd = tempProject('options-cwd');
  const root = tempProject('options-root');
  write(cwd, 'ok.json', JSON.stringify({ clusterName: 'demo', serviceCidr: '10.33.0.0/24', clusterDnsIp: '10.33.0.10', nodes: [{ name: 'cp', role: 'control-plane' }, { name: 'w', role: 'worker' }] }));
  const config = configFromFlags({ config: 'ok.json' }, root, { cwd });
  assert.is(config.clusterName, 'demo');
  assert.equal(config.nodes, [{ name: 'cp', role: 'control-plane' }, { name: 'w', role: 'worker' }]);
  assert.is(configFromFlags({ config: 'ok.json', workers: '2' }, root, { cwd }).nodes.length, 3);
  assert.is(configFromFlags({ config: join(cwd, 'ok.json') }, root, { cwd: root }).clusterName, 'demo', 'an absolute path is used as is');
  // Not looked for in the project root.
  write(root, 'only-in-root.json', '{}');
  const missing = optionError(() => configFromFlags({ config: 'only-in-root.json' }, root, { cwd }));
  assert.match(missing, '--config only-in-root.json: no such file');
  assert.match(missing, join(cwd, 'only-in-root.json'));
});

test('a --config file that cannot be used is one error naming it', () => {
  const cwd = tempProject('options');
  write(cwd, 'bad.json', '{ nope');
  assert.match(optionError(() => configFromFlags({ config: 'bad.json' }, undefined, { cwd })), /^--config bad\.json: not valid JSON/);
  write(cwd, 'list.json', '[{"clusterName": "x"}]');
  assert.match(optionError(() => configFromFlags({ config: 'list.json' }, undefined, { cwd })), /^--config list\.json: .*not a JSON object/);
  assert.match(optionError(() => configFromFlags({ config: '.' }, undefined, { cwd })), /^--config \.: cannot be read/);
  assert.match(optionError(() => configFromFlags({ config: '' }, undefined, { cwd })), /^--config needs a file name/);
});

test('--config fields: every problem, one line each, as <file>: <field>: <problem>; <what is valid>', () => {
  const cwd = tempProject('options');
  write(cwd, 'typo.json', JSON.stringify({ clustername: 'x', servicecidr: '10.33.0.0/24', zzz: 1 }));
  const typos = configLines(() => configFromFlags({ config: 'typo.json' }, undefined, { cwd }));
  assert.is(typos.length, 3);
  assert.match(typos[0]!, /^typo\.json: clustername: .*; did you mean clusterName\?$/);
  assert.match(typos[1]!, /^typo\.json: servicecidr: .*; did you mean serviceCidr\?$/);
  assert.match(typos[2]!, /^typo\.json: zzz: .*; the fields are clusterName, nodes, /);
  write(cwd, 'type.json', JSON.stringify({ apiServerPort: '6443', kubeletOverrides: null, nodes: [{ name: 'a', role: 'master', ip: '10.0.0.1' }] }));
  const types = configLines(() => configFromFlags({ config: 'type.json' }, undefined, { cwd }));
  assert.equal(types.map((l) => l.split(': ').slice(0, 2).join(': ')), ['type.json: apiServerPort', 'type.json: kubeletOverrides', 'type.json: nodes[0].role', 'type.json: nodes[0].ip']);
  assert.match(types[0]!, 'number');
  assert.match(types[2]!, '"control-plane" or "worker"');
  // The IP plan's problems and the other fields' all at once, each naming the field at fault.
  write(cwd, 'many.json', JSON.stringify({ serviceCidr: '10.200.0.0/24', clusterDnsIp: '10.200.0.10', apiServerPort: 99999, clusterName: '', nodes: [{ name: 'x', role: 'control-plane' }, { name: 'x', role: 'worker' }] }));
  const many = configLines(() => configFromFlags({ config: 'many.json' }, undefined, { cwd }));
  assert.equal(many.map((l) => l.split(': ')[1]).sort(), ['apiServerPort', 'clusterName', 'nodes[1].name', 'serviceCidr']);
  for (const line of many) assert.match(line, /^many\.json: [^:]+: .+; .+$/);
  write(cwd, 'nocp.json', JSON.stringify({ nodes: [{ name: 'w', role: 'worker' }] }));
  assert.equal(configLines(() => configFromFlags({ config: 'nocp.json' }, undefined, { cwd })).map((l) => l.split(': ').slice(0, 2).join(': ')), ['nocp.json: nodes']);
  // A flag replacing the file's bad nodes does not hide them, and the line still names the file.
  assert.equal(configLines(() => configFromFlags({ config: 'type.json', 'control-planes': '1' }, undefined, { cwd })).filter((l) => l.includes('nodes[')).map((l) => l.split(': ')[0]), ['type.json', 'type.json']);
  // Two control planes from the file: the warning names the file; --control-planes 3 replaces them: no warning.
  write(cwd, 'even.json', JSON.stringify({ nodes: [{ name: 'c1', role: 'control-plane' }, { name: 'c2', role: 'control-plane' }, { name: 'w', role: 'worker' }] }));
  const warned: string[] = [];
  configFromFlags({ config: 'even.json' }, undefined, { cwd, warn: (line) => warned.push(line) });
  assert.equal(warned.map((l) => l.split(': ').slice(0, 2).join(': ')), ['even.json: nodes']);
  warned.length = 0;
  configFromFlags({ config: 'even.json', 'control-planes': '3' }, undefined, { cwd, warn: (line) => warned.push(line) });
  assert.equal(warned, []);
});

test('parseArgs: engine flags, project flags, = and -jN forms, positionals after --', () => {
  const parsed = parseArgs(['pki', '-n', '--jobs=3', '--workers', '4', '-k', '--', '--odd'], projectFlags);
  assert.equal(parsed.positionals, ['pki', '--odd']);
  assert.is(parsed.flags.dryRun, true);
  assert.is(parsed.flags.keepGoing, true);
  assert.is(parsed.flags.jobs, 3);
  assert.equal(parsed.project, { workers: '4' });
  assert.is(parseArgs(['-j8']).flags.jobs, 8);
  assert.throws(() => parseArgs(['--workers'], projectFlags), (e: unknown) => e instanceof CliError && e.message === '--workers needs a value (--workers N)');
  assert.throws(() => parseArgs(['--force=yes']), (e: unknown) => e instanceof CliError && e.message === '--force takes no value');
});

test('a negative number is a flag value to refuse as a number, not a missing value', () => {
  const cases: [string[], string][] = [
    [['-j', '-1'], '-j'],
    [['--jobs', '-1'], '--jobs'],
    [['-j-1'], '-j'],
    [['--jobs=-1'], '--jobs'],
  ];
  for (const [argv, flag] of cases) {
    assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof CliError && e.kind === 'bad-flag' && e.message === `${flag} wants a whole number ≥ 1, got "-1"`, argv.join(' '));
  }
  assert.throws(() => parseArgs(['-j', '0']), (e: unknown) => e instanceof CliError && e.message === '-j wants a whole number ≥ 1, got "0"');
  // Passed on to the project, which says what --workers accepts.
  assert.equal(parseArgs(['--workers', '-1'], projectFlags).project, { workers: '-1' });
  assert.throws(() => parseArgs(['-j', '--force']), (e: unknown) => e instanceof CliError && e.message === '-j needs a value (-j N)');
});

test('the runner reads uvu summaries, colour codes and all', () => {
  const output = '• • ✘\n\n  \x1b[2mTotal:\x1b[22m     3\n\x1b[32m  Passed:    2\x1b[39m\n  Skipped:   0\n  Duration:  1ms\n';
  assert.equal(parseSummary(output), { total: 3, passed: 2, skipped: 0 });
  assert.is(parseSummary('crashed before any summary'), undefined);
});

test.run();
