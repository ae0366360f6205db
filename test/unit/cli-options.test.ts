// Project flags → ClusterConfig (tasks/options.ts), argument parsing, and the runner's uvu summary parser.

import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs } from '../../lib/cli/args.ts';
import { CliError, OptionError } from '../../lib/cli/index.ts';
import { defaultConfig } from '../../tasks/config.ts';
import { configFromFlags, projectFlags } from '../../tasks/options.ts';
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

test('defaults, counts and binaries', () => {
  assert.equal(configFromFlags({}), defaultConfig);
  const config = configFromFlags({ 'control-planes': '2', workers: '3', binaries: 'go' });
  assert.equal(config.nodes.map((n) => n.name), ['controller-1', 'controller-2', 'worker-1', 'worker-2', 'worker-3']);
  assert.is(config.binarySource, 'go');
  assert.equal(defaultConfig.nodes.length, 3, 'defaults are not mutated');
});

test('invalid flag values get one clear message', () => {
  assert.is(optionError(() => configFromFlags({ workers: 'two' })), '--workers wants a whole number, got "two"');
  assert.is(optionError(() => configFromFlags({ workers: '0' })), '--workers 0 is out of range | use 1..50');
  assert.is(optionError(() => configFromFlags({ 'control-planes': '0' })), '--control-planes 0 is out of range | use 1..9');
  assert.is(optionError(() => configFromFlags({ binaries: 'http' })), '--binaries http is not a binary source | use one of auto, release, dir, go');
});

test('--config FILE overrides fields, flags win, and mistakes are named', () => {
  const root = tempProject('options');
  write(root, 'ok.json', JSON.stringify({ clusterName: 'demo', serviceCidr: '10.33.0.0/24', nodes: [{ name: 'cp', role: 'control-plane' }, { name: 'w', role: 'worker' }] }));
  const config = configFromFlags({ config: 'ok.json' }, root);
  assert.is(config.clusterName, 'demo');
  assert.equal(config.nodes, [{ name: 'cp', role: 'control-plane' }, { name: 'w', role: 'worker' }]);
  assert.is(configFromFlags({ config: 'ok.json', workers: '2' }, root).nodes.length, 3);
  write(root, 'typo.json', JSON.stringify({ clustername: 'x' }));
  assert.match(optionError(() => configFromFlags({ config: 'typo.json' }, root)), `--config ${join(root, 'typo.json')}: unknown field "clustername" | fields: clusterName, nodes,`);
  write(root, 'type.json', JSON.stringify({ apiServerPort: '6443' }));
  assert.is(optionError(() => configFromFlags({ config: 'type.json' }, root)), `--config ${join(root, 'type.json')}: "apiServerPort" must be a number, got "6443"`);
  write(root, 'bad.json', '{ nope');
  assert.match(optionError(() => configFromFlags({ config: 'bad.json' }, root)), 'not valid JSON');
  assert.match(optionError(() => configFromFlags({ config: 'none.json' }, root)), 'none.json: no such file');
  write(root, 'nocp.json', JSON.stringify({ nodes: [{ name: 'w', role: 'worker' }] }));
  assert.is(optionError(() => configFromFlags({ config: 'nocp.json' }, root)), 'the config has no control-plane node | set --control-planes 1 or add one to "nodes"');
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

test('the runner reads uvu summaries, colour codes and all', () => {
  const output = '• • ✘\n\n  \x1b[2mTotal:\x1b[22m     3\n\x1b[32m  Passed:    2\x1b[39m\n  Skipped:   0\n  Duration:  1ms\n';
  assert.equal(parseSummary(output), { total: 3, passed: 2, skipped: 0 });
  assert.is(parseSummary('crashed before any summary'), undefined);
});

test.run();
