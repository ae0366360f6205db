// State written by an older engine (journal format 2, stat cache format 1) is read as it is: nothing
// rebuilds and nothing is re-hashed; the next writer rewrites both in the current formats. A format 1
// journal (the first engine's, no longer read) counts as another format: everything rebuilds, no crash.

import { chmodSync, existsSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashCounter, journalPath, readRecord } from '../../lib/engine/index.ts';
import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { build, tempProject, withOutcome, write } from '../fixtures/engine/helpers.ts';

/** in (reads in.txt, owns out/in.txt, a value and an env input) → mid (two dependencies) → top. */
function project(root: string, value = 'a', probed = false) {
  const runs: string[] = [];
  const input = target({
    name: 'g:in',
    description: 'reads in.txt',
    deps: {},
    version: 2,
    inputs: { files: ['in.txt', 'b.txt'], values: { setting: value, list: [1, { z: 1, a: 2 }] }, env: ['HARDER_JOURNAL_TEST'] },
    outputs: ['out/in.txt'],
    build: async (ctx) => {
      runs.push('g:in');
      write(ctx.root, 'out/in.txt', 'made');
      return { text: 'in' };
    },
  });
  const other = target({ name: 'g:other', description: '', deps: {}, ...(probed ? { probe: async () => undefined } : {}), build: async () => (runs.push('g:other'), 7) });
  const mid = target({
    name: 'g:mid',
    description: 'two dependencies, declared out of alphabetical order',
    deps: { zeta: input, alpha: other },
    build: async (ctx) => (runs.push('g:mid'), `${ctx.deps.zeta.text}${ctx.deps.alpha}`),
  });
  const top = target({ name: 'h:top', description: '', deps: { mid }, build: async (ctx) => (runs.push('h:top'), ctx.deps.mid.length) });
  const targets: AnyTarget[] = [input, other, mid, top];
  return { targets, runs };
}

/** The journal as the format 1 engine wrote it: a JSON object of the hot fields, a tab, the manifest (no longer read). */
function rewriteAsFormat1(outDir: string, names: string[]): void {
  let text = '{"harder-state":1}\n';
  for (const name of names) {
    const read = readRecord(outDir, name);
    if (read.kind !== 'ok') throw new Error(`no record for ${name}`);
    const { key, result, resultHash, outputs, manifest, builtAt, ms } = read.record;
    // Format 1 stamps had no mode.
    const stamps = Object.fromEntries(Object.entries(outputs).map(([path, { hash, size, mtimeMs, ctimeMs, ino }]) => [path, { hash, size, mtimeMs, ctimeMs, ino }]));
    const hot = JSON.stringify({ schema: 1, name, key, result, resultHash, outputs: stamps });
    const cold = JSON.stringify({ manifest: { ...manifest }, builtAt, ms });
    text += `${JSON.stringify(name)}\t${hot}\t${cold}\n`;
  }
  writeFileSync(journalPath(outDir), text);
}

/** The journal as the format 2 engine wrote it: the same lines, owned-file stamps without the mode. */
function rewriteAsFormat2(outDir: string): void {
  const lines = readFileSync(journalPath(outDir), 'utf8').split('\n');
  assert.is(lines[0], '{"harder-state":3}');
  const out = ['{"harder-state":2}'];
  for (const line of lines.slice(1)) {
    const fields = line.split('\t');
    if (fields.length === 6) {
      const flat = JSON.parse(fields[4]!) as unknown[];
      const six: unknown[] = [];
      for (let i = 0; i < flat.length; i += 7) six.push(...flat.slice(i, i + 6));
      fields[4] = JSON.stringify(six);
    }
    out.push(fields.join('\t'));
  }
  writeFileSync(journalPath(outDir), out.join('\n'));
}

/** The stat cache as the format 1 engine wrote it (one JSON object), from the current file. */
function rewriteStatCacheAsFormat1(outDir: string): void {
  const tsv = join(outDir, '.harder', 'stat-cache.tsv');
  const files: Record<string, unknown> = {};
  for (const line of readFileSync(tsv, 'utf8').trim().split('\n').slice(1)) {
    const [path, hash, size, mtimeMs, ctimeMs, ino] = line.split('\t');
    files[path!] = { hash, size: Number(size), mtimeMs: Number(mtimeMs), ctimeMs: Number(ctimeMs), ino: Number(ino) };
  }
  unlinkSync(tsv);
  writeFileSync(join(outDir, '.harder', 'stat-cache.json'), JSON.stringify({ format: 1, files }));
}

test('a format 1 stat cache is read without re-hashing, then rewritten as the tsv', async () => {
  const root = tempProject('journal');
  const outDir = join(root, 'output');
  write(root, 'in.txt', 'in');
  write(root, 'b.txt', 'b');
  // Old enough to be cached (not "racily clean").
  for (const f of ['in.txt', 'b.txt']) utimesSync(join(root, f), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  process.env.HARDER_JOURNAL_TEST = 'x';
  try {
    const first = project(root);
    await build(root, { targets: first.targets, requested: ['h:top'] });
    assert.equal(first.runs.sort(), ['g:in', 'g:mid', 'g:other', 'h:top']);
    const names = ['g:in', 'g:other', 'g:mid', 'h:top'];
    rewriteStatCacheAsFormat1(outDir);

    // A dry run reads the old state and writes nothing.
    const dry = await build(root, { targets: project(root).targets, requested: ['h:top'], dryRun: true });
    assert.equal(withOutcome(dry, 'up-to-date'), names.slice().sort());
    assert.ok(existsSync(join(outDir, '.harder', 'stat-cache.json')));
    assert.not.ok(existsSync(join(outDir, '.harder', 'stat-cache.tsv')));

    const hashed = hashCounter.files;
    const second = project(root);
    const report = await build(root, { targets: second.targets, requested: ['h:top'] });
    assert.equal(second.runs, [], 'nothing rebuilt');
    assert.equal(withOutcome(report, 'up-to-date'), names.slice().sort());
    assert.is(hashCounter.files, hashed, 'nothing re-hashed');
    assert.equal(report.entries['h:top']!.result, 3);
    // The run rewrote the stat cache in the current format, with the same stamps.
    assert.ok(existsSync(join(outDir, '.harder', 'stat-cache.tsv')));
    assert.not.ok(existsSync(join(outDir, '.harder', 'stat-cache.json')));
    const third = project(root);
    await build(root, { targets: third.targets, requested: ['h:top'] });
    assert.equal(third.runs, []);
    assert.is(hashCounter.files, hashed);

  } finally {
    delete process.env.HARDER_JOURNAL_TEST;
  }
});

test('a format 1 journal is another format: every target rebuilds (no crash), and the journal is rewritten in format 3', async () => {
  const root = tempProject('journal');
  const outDir = join(root, 'output');
  write(root, 'in.txt', 'in');
  write(root, 'b.txt', 'b');
  await build(root, { targets: project(root).targets, requested: ['h:top'] });
  rewriteAsFormat1(outDir, ['g:in', 'g:other', 'g:mid', 'h:top']);
  assert.is(readRecord(outDir, 'g:in').kind, 'missing');
  const dry = await build(root, { targets: project(root).targets, requested: ['h:top'], dryRun: true });
  assert.equal(withOutcome(dry, 'would-build'), ['g:in', 'g:mid', 'g:other', 'h:top']);
  assert.is(dry.entries['g:in']!.reason, 'never built');
  const p = project(root);
  const report = await build(root, { targets: p.targets, requested: ['h:top'] });
  assert.equal(p.runs.sort(), ['g:in', 'g:mid', 'g:other', 'h:top']);
  assert.equal(report.entries['h:top']!.result, 3);
  assert.ok(readFileSync(journalPath(outDir), 'utf8').startsWith('{"harder-state":3}\n'));
  const again = project(root);
  await build(root, { targets: again.targets, requested: ['h:top'] });
  assert.equal(again.runs, []);
});

test('a format 2 journal (stamps without modes) is read without rebuilding or re-hashing; modes are recorded from then on', async () => {
  const root = tempProject('journal');
  const outDir = join(root, 'output');
  write(root, 'in.txt', 'in');
  write(root, 'b.txt', 'b');
  for (const f of ['in.txt', 'b.txt']) utimesSync(join(root, f), new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  await build(root, { targets: project(root).targets, requested: ['h:top'] });
  rewriteAsFormat2(outDir);
  const hashed = hashCounter.files;
  const p = project(root);
  const report = await build(root, { targets: p.targets, requested: ['h:top'] });
  assert.equal(p.runs, [], 'nothing rebuilt');
  assert.equal(withOutcome(report, 'up-to-date'), ['g:in', 'g:mid', 'g:other', 'h:top']);
  assert.is(hashCounter.files, hashed, 'nothing re-hashed');
  assert.ok(readFileSync(journalPath(outDir), 'utf8').startsWith('{"harder-state":3}\n'));
  const read = readRecord(outDir, 'g:in');
  assert.ok(read.kind === 'ok');
  assert.is(read.record.outputs['out/in.txt']!.mode, statSync(join(root, 'out/in.txt')).mode & 0o7777, 'the mode is recorded');
  chmodSync(join(root, 'out/in.txt'), 0o600);
  const drifted = await build(root, { targets: project(root).targets, requested: ['h:top'] });
  assert.ok(drifted.entries['g:in']!.repaired);
  assert.match(drifted.entries['g:in']!.reason, /^mode of out\/in.txt is 0600, want 06[46]4$/);
});

test('a format 2 record is explained from its own manifest before any rewrite', async () => {
  const root = tempProject('journal');
  const outDir = join(root, 'output');
  write(root, 'in.txt', 'in');
  write(root, 'b.txt', 'b');
  await build(root, { targets: project(root).targets, requested: ['h:top'] });
  rewriteAsFormat2(outDir);
  write(root, 'b.txt', 'changed');
  const dry = await build(root, { targets: project(root).targets, requested: ['h:top'], dryRun: true });
  assert.match(dry.entries['g:in']!.reason, /^input file b\.txt changed: [0-9a-f]{8} → [0-9a-f]{8}$/);
  assert.equal(withOutcome(dry, 'up-to-date'), ['g:other']);
});

test('an invalidated line in a format 2 journal: honoured for a target with a probe, ignored where the engine checks every artefact', async () => {
  const root = tempProject('journal');
  const outDir = join(root, 'output');
  write(root, 'in.txt', 'in');
  write(root, 'b.txt', 'b');
  await build(root, { targets: project(root, 'a', true).targets, requested: ['h:top'] });
  rewriteAsFormat2(outDir);
  writeFileSync(journalPath(outDir), `${readFileSync(journalPath(outDir), 'utf8')}"g:mid"\t{"invalidated":true}\n"g:other"\t{"invalidated":true}\n`);
  const p = project(root, 'a', true);
  const report = await build(root, { targets: p.targets, requested: ['h:top'] });
  // g:other's artefacts are outside output/ (it has a probe): an unfinished build means rebuild.
  assert.is(report.entries['g:other']!.reason, 'the last build failed or was interrupted');
  // g:mid owns nothing the engine cannot check: its record still describes what is there.
  assert.equal(p.runs, ['g:other']);
  assert.equal(withOutcome(report, 'up-to-date'), ['g:in', 'g:mid', 'h:top']);
});

test.run();
