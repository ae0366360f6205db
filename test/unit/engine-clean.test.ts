// clean (owned outputs and records only, clean() called, precious needs yes) and the DOT graph.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanTargets, EngineError, graphDot, graphStates, readStoredResult } from '../../lib/engine/index.ts';
import { alias, target } from '../../lib/engine/target.ts';
import { build, tempProject, write } from '../fixtures/engine/helpers.ts';

function project(cleaned: string[]) {
  const ca = target({
    name: 'pki:ca', description: 'The cluster CA', deps: {}, precious: true, outputs: ['output/pki/ca.pem'],
    build: async (ctx) => { write(ctx.root, 'output/pki/ca.pem', 'CA'); return { serial: 1 }; },
  });
  const admin = target({
    name: 'pki:admin', description: 'Admin cert', deps: { ca }, outputs: ['output/pki/admin.pem'],
    build: async (ctx) => { write(ctx.root, 'output/pki/admin.pem', 'ADMIN'); return { signedBy: ctx.deps.ca.serial }; },
  });
  const node = target({
    name: 'nodes:worker-1', description: 'A node container', deps: { admin },
    build: async () => ({ container: 'c1' }),
    clean: async (result) => { cleaned.push(`nodes:worker-1 ${JSON.stringify(result)}`); },
  });
  return [ca, admin, node, alias('certs', 'All certificates', [ca, admin])];
}

test('clean removes exactly the owned files and the record, and calls clean() with the stored result', async () => {
  const root = tempProject('clean');
  const cleaned: string[] = [];
  await build(root, { targets: project(cleaned), requested: ['nodes:worker-1'] });
  write(root, 'output/pki/other.pem', 'not owned by anyone');
  const report = await cleanTargets({ targets: project(cleaned), requested: ['pki:admin', 'nodes'], root });
  assert.equal(report.removed.sort(), ['output/pki/admin.pem', 'state of nodes:worker-1', 'state of pki:admin']);
  assert.equal(cleaned, ['nodes:worker-1 {"container":"c1"}']);
  assert.ok(existsSync(join(root, 'output/pki/other.pem')));
  assert.ok(existsSync(join(root, 'output/pki/ca.pem')));
  assert.equal(readStoredResult(join(root, 'output'), 'pki:ca'), { serial: 1 });
  assert.is(readStoredResult(join(root, 'output'), 'pki:admin'), undefined);
});

test('cleaning a precious target needs yes and says what will have to be rebuilt', async () => {
  const root = tempProject('clean');
  await build(root, { targets: project([]), requested: ['nodes:worker-1'] });
  try {
    await cleanTargets({ targets: project([]), requested: ['certs'], root });
    assert.unreachable('should need --yes');
  } catch (error) {
    assert.instance(error, EngineError);
    const e = error as EngineError;
    assert.is(e.kind, 'needs-yes');
    assert.is(e.message, 'pki:ca is precious: cleaning it invalidates what was made from it');
    assert.equal(e.details, ['removes: pki:ca, pki:admin', 'will have to be rebuilt: nodes:worker-1']);
    assert.is(e.hint, 'run again with --yes to clean anyway');
  }
  assert.ok(existsSync(join(root, 'output/pki/ca.pem')), 'nothing removed without --yes');
  const report = await cleanTargets({ targets: project([]), requested: ['certs'], root, yes: true });
  assert.equal(report.cleaned, ['pki:admin', 'pki:ca']);
  assert.not.ok(existsSync(join(root, 'output/pki/ca.pem')));
  // The next build rebuilds the CA and, as its result is the same, the node stays up to date.
  const rebuilt = await build(root, { targets: project([]), requested: ['nodes:worker-1'] });
  assert.is(rebuilt.entries['pki:ca']!.outcome, 'built');
  assert.is(rebuilt.entries['nodes:worker-1']!.outcome, 'up-to-date');
});

test('a dry run of a clean lists what it would remove and removes nothing, precious or not', async () => {
  const root = tempProject('clean');
  const cleaned: string[] = [];
  await build(root, { targets: project(cleaned), requested: ['nodes:worker-1'] });
  // Without yes a dry run does not refuse: it lists, and says the real clean needs --yes.
  const dry = await cleanTargets({ targets: project(cleaned), requested: ['certs', 'nodes'], root, dryRun: true });
  assert.ok(dry.dryRun);
  assert.equal(dry.removed, ['state of nodes:worker-1', 'state of pki:admin', 'output/pki/admin.pem', 'state of pki:ca', 'output/pki/ca.pem']);
  assert.equal(dry.external, ['nodes:worker-1']);
  assert.equal(dry.needsYes, ['pki:ca']);
  const withYes = await cleanTargets({ targets: project(cleaned), requested: ['certs'], root, dryRun: true, yes: true });
  assert.equal(withYes.needsYes, []);
  assert.equal(cleaned, [], 'no clean() called');
  assert.ok(existsSync(join(root, 'output/pki/ca.pem')));
  assert.ok(existsSync(join(root, 'output/pki/admin.pem')));
  assert.equal(readStoredResult(join(root, 'output'), 'pki:ca'), { serial: 1 });
  assert.equal(readStoredResult(join(root, 'output'), 'pki:admin'), { signedBy: 1 });
  assert.equal(readStoredResult(join(root, 'output'), 'nodes:worker-1'), { container: 'c1' });
});

test('clean removes the temp files killed runs left beside owned files (a key\'s copy), and a dry run lists them', async () => {
  const root = tempProject('clean');
  await build(root, { targets: project([]), requested: ['certs'] });
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  write(root, `output/pki/ca.pem.${dead}.0.tmp`, 'a private key');
  const dry = await cleanTargets({ targets: project([]), requested: ['certs'], root, dryRun: true });
  assert.equal(dry.removedTemps, [`output/pki/ca.pem.${dead}.0.tmp`]);
  assert.ok(existsSync(join(root, `output/pki/ca.pem.${dead}.0.tmp`)));
  const report = await cleanTargets({ targets: project([]), requested: ['certs'], root, yes: true });
  assert.equal(report.removedTemps, [`output/pki/ca.pem.${dead}.0.tmp`]);
  assert.not.ok(existsSync(join(root, `output/pki/ca.pem.${dead}.0.tmp`)));
});

test('the DOT graph groups by target group and colours by state', async () => {
  const root = tempProject('dot');
  const targets = project([]);
  await build(root, { targets, requested: ['pki:admin'] });
  write(root, 'output/pki/admin.pem', 'tampered');
  const states = await graphStates({ targets, requested: ['nodes:worker-1'], root });
  assert.equal(states, { 'pki:ca': 'up-to-date', 'pki:admin': 'stale', 'nodes:worker-1': 'never-built' });
  const dot = graphDot(targets, ['nodes:worker-1'], states);
  assert.match(dot, /subgraph "cluster_pki" \{\n    label="pki";/);
  assert.match(dot, /subgraph "cluster_nodes"/);
  assert.match(dot, /"pki:ca" \[label="pki:ca", tooltip="The cluster CA \(up to date\)", fillcolor="#b7e1a1"\];/);
  assert.match(dot, /"pki:admin" \[label="pki:admin", tooltip="Admin cert \(stale\)", fillcolor="#ffd58a"\];/);
  assert.match(dot, /"nodes:worker-1" \[[^\]]*fillcolor="#e6e6e6"\];/);
  assert.match(dot, /"pki:ca" -> "pki:admin";/);
  assert.match(dot, /"pki:admin" -> "nodes:worker-1";/);
  assert.not.match(dot, /certs/);
});

test.run();
