// Staleness for each reason, early cutoff, --force semantics, probes, generated targets, atomic state.

import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { journalPath, readRecord, readStoredResult } from '../../lib/engine/index.ts';
import { alias, target, type AnyTarget, type Json } from '../../lib/engine/target.ts';
import { build, tempProject, withOutcome, write } from '../fixtures/engine/helpers.ts';

/** A small project: `in` reads in.txt and owns out/in.txt; `mid` depends on it; `top` on mid. */
function project(root: string, opts: { value?: Json; version?: number; midResult?: (n: string) => Json; probe?: () => string | undefined; env?: string[] } = {}) {
  const runs: string[] = [];
  const input = target({
    name: 'g:in',
    description: 'reads in.txt',
    deps: {},
    version: opts.version,
    inputs: { files: ['in.txt'], values: { setting: opts.value ?? 'a' }, env: opts.env },
    outputs: ['out/in.txt'],
    build: async (ctx) => {
      runs.push('g:in');
      write(ctx.root, 'out/in.txt', 'made');
      return { text: 'in' };
    },
  });
  const mid = target({
    name: 'g:mid',
    description: 'depends on in',
    deps: { input },
    probe: async () => opts.probe?.(),
    build: async (ctx) => {
      runs.push('g:mid');
      return opts.midResult ? opts.midResult(ctx.deps.input.text) : { upper: ctx.deps.input.text.toUpperCase() };
    },
  });
  const top = target({
    name: 'h:top',
    description: 'depends on mid',
    deps: { mid },
    build: async () => {
      runs.push('h:top');
      return 1;
    },
  });
  const everything = alias('all', 'all', [top]);
  return { runs, targets: [input, mid, top, everything] as AnyTarget[], input, mid, top };
}

function fresh() {
  const root = tempProject('stale');
  write(root, 'in.txt', 'one');
  return root;
}

test('never built, then up to date', async () => {
  const root = fresh();
  const p = project(root);
  const first = await build(root, { targets: p.targets, requested: ['all'] });
  assert.ok(first.ok);
  assert.equal(withOutcome(first, 'built'), ['g:in', 'g:mid', 'h:top']);
  assert.is(first.entries['g:in']!.reason, 'never built');
  const second = await build(root, { targets: project(root).targets, requested: ['all'] });
  assert.equal(withOutcome(second, 'up-to-date'), ['g:in', 'g:mid', 'h:top']);
  assert.equal(second.entries['g:mid']!.result, { upper: 'IN' });
  assert.equal(readStoredResult(join(root, 'output'), 'g:mid'), { upper: 'IN' });
});

test('input file change: named in the reason; early cutoff stops at an unchanged result', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['all'] });
  write(root, 'in.txt', 'two');
  const p = project(root);
  const report = await build(root, { targets: p.targets, requested: ['all'] });
  assert.match(report.entries['g:in']!.reason, /^input file in.txt changed: [0-9a-f]{8} → [0-9a-f]{8}$/);
  // g:in rebuilt but returned the same result: nothing downstream runs.
  assert.equal(p.runs, ['g:in']);
});

test('dependency result change rebuilds dependents and says which dependency', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['all'] });
  const p = project(root, { midResult: () => ({ upper: 'CHANGED' }), version: 2 });
  const report = await build(root, { targets: p.targets, requested: ['all'] });
  assert.is(report.entries['g:in']!.reason, 'recipe version changed: 0 → 2');
  // g:in's result is unchanged, so g:mid is up to date even though its build would now differ.
  assert.equal(p.runs, ['g:in']);
  const forced = project(root, { midResult: () => ({ upper: 'CHANGED' }), version: 2 });
  const report2 = await build(root, { targets: forced.targets, requested: ['g:mid'], force: true });
  assert.is(report2.entries['g:mid']!.reason, 'forced');
  const report3 = await build(root, { targets: forced.targets, requested: ['all'] });
  assert.is(report3.entries['h:top']!.reason, 'dependency g:mid has a new result');
});

test('value and env changes are explained from → to', async () => {
  const root = fresh();
  process.env.HARDER_TEST_ENV = 'x';
  await build(root, { targets: project(root, { value: { nodes: [1, 2] }, env: ['HARDER_TEST_ENV'] }).targets, requested: ['g:in'] });
  const r1 = await build(root, { targets: project(root, { value: { nodes: [1, 3] }, env: ['HARDER_TEST_ENV'] }).targets, requested: ['g:in'] });
  assert.is(r1.entries['g:in']!.reason, 'value setting.nodes[1] changed: 2 → 3');
  delete process.env.HARDER_TEST_ENV;
  const r2 = await build(root, { targets: project(root, { value: { nodes: [1, 3] }, env: ['HARDER_TEST_ENV'] }).targets, requested: ['g:in'] });
  assert.is(r2.entries['g:in']!.reason, 'env HARDER_TEST_ENV changed: "x" → (unset)');
});

test('owned output missing or modified → rebuild; touched but equal → up to date, not re-hashed twice', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['g:in'] });
  unlinkSync(join(root, 'out/in.txt'));
  const r1 = await build(root, { targets: project(root).targets, requested: ['g:in'] });
  assert.is(r1.entries['g:in']!.reason, 'output out/in.txt is missing');
  write(root, 'out/in.txt', 'tampered');
  const r2 = await build(root, { targets: project(root).targets, requested: ['g:in'] });
  assert.is(r2.entries['g:in']!.reason, 'output out/in.txt was modified');
  utimesSync(join(root, 'out/in.txt'), new Date(), new Date(Date.now() + 5000));
  const r3 = await build(root, { targets: project(root).targets, requested: ['g:in'] });
  assert.is(r3.entries['g:in']!.outcome, 'up-to-date');
  // The refreshed stamp was recorded: the next check matches by stat alone.
  const record = readRecord(join(root, 'output'), 'g:in');
  assert.ok(record.kind === 'ok' && record.record.outputs['out/in.txt']!.mtimeMs > Date.now());
});

test('a drifted mode of an owned file is explained and put back by a chmod, not a rebuild', async () => {
  const root = fresh();
  const runs: string[] = [];
  const key = () =>
    target({
      name: 'k:key', description: 'a private key', deps: {}, inputs: { files: ['in.txt'] }, outputs: ['out/k.key'],
      build: async (ctx) => {
        runs.push('k:key');
        write(ctx.root, 'out/k.key', 'secret');
        chmodSync(join(ctx.root, 'out/k.key'), 0o600);
        return 'k';
      },
    });
  await build(root, { targets: [key()], requested: ['k:key'] });
  chmodSync(join(root, 'out/k.key'), 0o644);
  const dry = await build(root, { targets: [key()], requested: ['k:key'], dryRun: true });
  assert.is(dry.entries['k:key']!.outcome, 'up-to-date');
  assert.ok(dry.entries['k:key']!.repaired);
  assert.is(dry.entries['k:key']!.reason, 'mode of out/k.key is 0644, want 0600');
  assert.is(statSync(join(root, 'out/k.key')).mode & 0o777, 0o644, 'a dry run changes nothing');
  const report = await build(root, { targets: [key()], requested: ['k:key'] });
  assert.is(report.entries['k:key']!.outcome, 'up-to-date');
  assert.ok(report.entries['k:key']!.repaired);
  assert.is(report.entries['k:key']!.reason, 'mode of out/k.key is 0644, want 0600');
  assert.is(statSync(join(root, 'out/k.key')).mode & 0o777, 0o600);
  assert.equal(runs, ['k:key'], 'not rebuilt');
  const again = await build(root, { targets: [key()], requested: ['k:key'] });
  assert.is(again.entries['k:key']!.reason, 'up to date');
  assert.not.ok(again.entries['k:key']!.repaired);
  // Modified content is still a rebuild, whatever the mode.
  write(root, 'out/k.key', 'garbage');
  const modified = await build(root, { targets: [key()], requested: ['k:key'] });
  assert.is(modified.entries['k:key']!.reason, 'output out/k.key was modified');
});

test('a failing probe rebuilds with its reason; a throwing probe too', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['g:mid'] });
  const p = project(root, { probe: () => 'container harder-worker-1 is gone' });
  const report = await build(root, { targets: p.targets, requested: ['g:mid'] });
  assert.is(report.entries['g:mid']!.reason, 'probe: container harder-worker-1 is gone');
  assert.equal(p.runs, ['g:mid']);
  const throwing = project(root, { probe: () => { throw new Error('docker is down'); } });
  const r2 = await build(root, { targets: throwing.targets, requested: ['g:mid'] });
  assert.is(r2.entries['g:mid']!.reason, 'probe failed: docker is down');
});

test('alwaysRun targets run every time; their unchanged result does not rebuild dependents', async () => {
  const root = fresh();
  let runs = 0;
  const check = target({ name: 'check', description: 'smoke', deps: {}, alwaysRun: true, build: async () => { runs++; return 'ok'; } });
  let after = 0;
  const dependent = target({ name: 'after', description: 'after', deps: { check }, build: async () => ++after });
  await build(root, { targets: [check, dependent], requested: ['after'] });
  const report = await build(root, { targets: [check, dependent], requested: ['after'] });
  assert.is(runs, 2);
  assert.is(after, 1);
  assert.is(report.entries.check!.reason, 'always runs');
});

test('--force on an alias or group skips precious members unless named', async () => {
  const root = fresh();
  const made: string[] = [];
  const ca = target({ name: 'pki:ca', description: 'ca', deps: {}, precious: true, build: async () => { made.push('pki:ca'); return 'ca'; } });
  const cert = target({ name: 'pki:cert', description: 'cert', deps: { ca }, build: async () => { made.push('pki:cert'); return 'cert'; } });
  const certs = alias('certs', 'all certs', [ca, cert]);
  const targets = [ca, cert, certs];
  await build(root, { targets, requested: ['certs'] });
  made.length = 0;
  await build(root, { targets, requested: ['certs'], force: true });
  assert.equal(made, ['pki:cert']);
  made.length = 0;
  await build(root, { targets, requested: ['pki'], force: true });
  assert.equal(made, ['pki:cert']);
  made.length = 0;
  // Named explicitly, the precious target is forced; its dependent keeps its record (same result).
  await build(root, { targets, requested: ['pki:ca', 'pki:cert'], force: true });
  assert.equal(made, ['pki:ca', 'pki:cert']);
  made.length = 0;
  const onlyCa = await build(root, { targets, requested: ['pki:ca'], force: true });
  assert.equal(made, ['pki:ca']);
  assert.is(onlyCa.entries['pki:ca']!.reason, 'forced');
});

test('a precious target is never replaced as a side effect: changed inputs or a damaged artefact stop the run', async () => {
  const root = fresh();
  const runs: string[] = [];
  const make = (algo: string, other = 'a') => {
    const ca = target({
      name: 'pki:ca', description: 'ca', deps: {}, precious: true, inputs: { values: { algo } }, outputs: ['out/ca.key'],
      build: async (ctx) => { runs.push('pki:ca'); write(ctx.root, 'out/ca.key', `key ${algo}`); return algo; },
    });
    const sa = target({ name: 'pki:sa', description: 'sa', deps: {}, precious: true, inputs: { values: { algo } }, build: async () => (runs.push('pki:sa'), algo) });
    const leaf = target({ name: 'pki:leaf', description: 'leaf', deps: { ca }, build: async (ctx) => (runs.push('pki:leaf'), ctx.deps.ca) });
    const unrelated = target({ name: 'other', description: '', deps: {}, inputs: { values: { other } }, build: async () => (runs.push('other'), other) });
    return [ca, sa, leaf, unrelated, alias('all', 'all', [leaf, sa, unrelated])];
  };
  // Never built: simply built.
  assert.ok((await build(root, { targets: make('ecdsa'), requested: ['all'] })).ok);
  runs.length = 0;
  for (const dryRun of [true, false]) {
    const report = await build(root, { targets: make('rsa', 'b'), requested: ['all'], dryRun });
    assert.not.ok(report.ok);
    // Both precious targets are named in one run; nothing starts building.
    assert.equal(report.failures.map((f) => [f.target, f.kind, f.message]), [
      ['pki:ca', 'precious-changed', 'pki:ca is precious and would be replaced: value algo changed: "ecdsa" → "rsa"'],
      ['pki:sa', 'precious-changed', 'pki:sa is precious and would be replaced: value algo changed: "ecdsa" → "rsa"'],
    ]);
    assert.is(report.failures[0]!.hint, 'undo the change, or replace it on purpose with --force pki:ca (what was made from it is rebuilt too)');
    assert.is(report.entries['pki:leaf']!.outcome, 'skipped');
    assert.is(report.entries.other!.outcome, dryRun ? 'would-build' : 'cancelled');
  }
  assert.equal(runs, []);
  write(root, 'out/ca.key', 'garbage');
  const damaged = await build(root, { targets: make('ecdsa'), requested: ['all'] });
  assert.is(damaged.failures[0]!.message, 'pki:ca is precious and would be replaced: output out/ca.key was modified');
  unlinkSync(join(root, 'out/ca.key'));
  const missing = await build(root, { targets: make('ecdsa'), requested: ['all'] });
  assert.is(missing.failures[0]!.message, 'pki:ca is precious and would be replaced: output out/ca.key is missing');
  assert.equal(runs, []);
  // Named with --force it is replaced, and what was made from it follows.
  const forced = await build(root, { targets: make('rsa'), requested: ['pki:ca', 'pki:sa'], force: true });
  assert.ok(forced.ok);
  const rest = await build(root, { targets: make('rsa'), requested: ['all'] });
  assert.ok(rest.ok);
  assert.equal(runs, ['pki:ca', 'pki:sa', 'pki:leaf']);
});

test('generated targets: adding one more builds only it', async () => {
  const root = fresh();
  const made: string[] = [];
  const gen = (workers: number) => {
    const plan = target({ name: 'plan', description: 'plan', deps: {}, build: async () => 'p' });
    const certs = Array.from({ length: workers }, (_, i) =>
      target({ name: `cert:worker-${i + 1}`, description: 'kubelet cert', deps: { plan }, inputs: { values: { node: `worker-${i + 1}` } }, build: async () => { made.push(`worker-${i + 1}`); return i; } }),
    );
    return [plan, ...certs, alias('certs', 'certs', certs)];
  };
  await build(root, { targets: gen(2), requested: ['certs'] });
  made.length = 0;
  const report = await build(root, { targets: gen(3), requested: ['certs'] });
  assert.equal(made, ['worker-3']);
  assert.equal(withOutcome(report, 'up-to-date'), ['cert:worker-1', 'cert:worker-2', 'plan']);
});

test('state: a torn last line is ignored; a corrupt or foreign record means rebuild, not a crash', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['all'] });
  const outDir = join(root, 'output');
  const file = journalPath(outDir);
  // A kill during a compaction leaves a torn temp file beside the journal: never read.
  writeFileSync(`${file}.99999.0.tmp`, '{"harder-state":1}\n"g:in"\t{"sch');
  const r0 = await build(root, { targets: project(root).targets, requested: ['all'] });
  assert.equal(withOutcome(r0, 'up-to-date'), ['g:in', 'g:mid', 'h:top']);
  // A kill in the middle of an append leaves a torn last line: ignored, and the next append starts a new line.
  appendFileSync(file, '"g:mid"\t{"schema":1,"na');
  const r1 = await build(root, { targets: project(root).targets, requested: ['all'] });
  assert.equal(withOutcome(r1, 'built'), []);
  write(root, 'in.txt', 'torn');
  await build(root, { targets: project(root).targets, requested: ['all'] });
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.ok(lines.includes('"g:mid"\t{"schema":1,"na'), 'the torn line was closed, not glued to the next one');
  assert.equal(readStoredResult(outDir, 'g:in'), { text: 'in' });
  // A record whose result is not JSON: that target rebuilds.
  appendFileSync(file, `"g:mid"\t${'0'.repeat(64)}\t${'1'.repeat(64)}\t{"text":"g:m\t[]\t{}\n`);
  const p = project(root);
  const r2 = await build(root, { targets: p.targets, requested: ['all'] });
  assert.is(r2.entries['g:mid']!.reason, 'its state record is corrupt (not JSON); rebuilding');
  assert.equal(p.runs, ['g:mid']);
  // A record with fields missing (or one of the first engine's JSON objects, format 1): rebuilt too.
  for (const line of ['"g:mid"\tjust-a-key', `"g:mid"\t${JSON.stringify({ schema: 1, name: 'g:mid' })}\t{}`]) {
    appendFileSync(file, `${line}\n`);
    const r3 = await build(root, { targets: project(root).targets, requested: ['all'] });
    assert.is(r3.entries['g:mid']!.reason, 'its state record is corrupt; rebuilding');
  }
  // A journal of another format version: everything rebuilds, nothing crashes.
  writeFileSync(file, '{"harder-state":99}\n"g:in"\t{}\n');
  const r4 = await build(root, { targets: project(root).targets, requested: ['all'] });
  assert.equal(withOutcome(r4, 'built'), ['g:in', 'g:mid', 'h:top']);
  assert.ok(readFileSync(file, 'utf8').startsWith('{"harder-state":3}\n'));
});

test('the next locked run removes temp files that dead processes left beside owned and state files; nothing else', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['all'] });
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const stale = [`out/in.txt.${dead}.0.tmp`, `output/.harder/state.log.${dead}.7.tmp`];
  // A live writer's temp, a temp beside a file no target owns, and a name without a pid are kept.
  const kept = [`out/in.txt.${process.ppid}.0.tmp`, `out/mine.txt.${dead}.0.tmp`, 'out/in.txt.tmp'];
  for (const rel of [...stale, ...kept]) write(root, rel, 'secret');
  const dry = await build(root, { targets: project(root).targets, requested: ['g:in'], dryRun: true });
  assert.is(dry.removedTemps, undefined);
  assert.ok(stale.every((rel) => existsSync(join(root, rel))), 'a dry run removes nothing');
  const report = await build(root, { targets: project(root).targets, requested: ['g:in'] });
  assert.equal(report.removedTemps?.sort(), [...stale].sort());
  assert.ok(stale.every((rel) => !existsSync(join(root, rel))));
  assert.ok(kept.every((rel) => existsSync(join(root, rel))));
  assert.equal(withOutcome(report, 'up-to-date'), ['g:in']);
});

test('the journal is compacted once it holds many superseded lines', async () => {
  const root = fresh();
  const file = journalPath(join(root, 'output'));
  for (let i = 0; i < 120; i++) {
    const t = target({ name: 'flip', description: '', deps: {}, inputs: { values: { i } }, build: async () => i });
    await build(root, { targets: [t], requested: ['flip'] });
  }
  // 120 builds wrote 120 record lines; compaction keeps the journal short.
  assert.ok(readFileSync(file, 'utf8').trim().split('\n').length < 110);
  assert.is(readStoredResult(join(root, 'output'), 'flip'), 119);
});

test('a failed rebuild keeps the record: with the input undone the target is up to date again', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['all'] });
  write(root, 'in.txt', 'typo');
  let seenDuring: string | undefined;
  const failing = target({
    name: 'g:in', description: 'x', deps: {}, inputs: { files: ['in.txt'], values: { setting: 'a' } }, outputs: ['out/in.txt'],
    build: async (ctx): Promise<{ text: string }> => {
      const read = readRecord(ctx.outDir, 'g:in');
      seenDuring = read.kind === 'ok' && !read.invalidated ? 'trusted' : read.kind;
      assert.equal(ctx.previous, { text: 'in' }, 'the previous result is offered to the build');
      throw new Error('fails before writing anything');
    },
  });
  const report = await build(root, { targets: [failing], requested: ['g:in'] });
  assert.not.ok(report.ok);
  assert.is(seenDuring, 'trusted', 'no invalidation marker: the outputs are checked by hash');
  assert.equal(readStoredResult(join(root, 'output'), 'g:in'), { text: 'in' });
  write(root, 'in.txt', 'one');
  const p = project(root);
  const again = await build(root, { targets: p.targets, requested: ['all'] });
  assert.equal(p.runs, []);
  assert.equal(withOutcome(again, 'up-to-date'), ['g:in', 'g:mid', 'h:top']);
});

test('a rebuild that wrote part of an output before failing is not trusted', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['g:in'] });
  write(root, 'in.txt', 'changed');
  const partial = target({
    name: 'g:in', description: 'x', deps: {}, inputs: { files: ['in.txt'], values: { setting: 'a' } }, outputs: ['out/in.txt'],
    build: async (ctx): Promise<{ text: string }> => {
      write(ctx.root, 'out/in.txt', 'ma');
      throw new Error('killed half-way through the write');
    },
  });
  assert.not.ok((await build(root, { targets: [partial], requested: ['g:in'] })).ok);
  write(root, 'in.txt', 'one');
  const p = project(root);
  const again = await build(root, { targets: p.targets, requested: ['g:in'] });
  assert.is(again.entries['g:in']!.reason, 'output out/in.txt was modified');
  assert.equal(p.runs, ['g:in']);
});

test('siblings cancelled by another target\'s failure keep their records', async () => {
  const root = fresh();
  const runs: string[] = [];
  const make = (round: string, fail: boolean) => {
    const slow = target({
      name: 's:slow', description: '', deps: {}, inputs: { values: { round } }, outputs: ['out/slow.txt'],
      build: async (ctx) => {
        runs.push(`slow ${round}`);
        if (round !== 'one') await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
        write(ctx.root, 'out/slow.txt', 'slow');
        return 'slow';
      },
    });
    const quick = target({
      name: 's:quick', description: '', deps: {}, inputs: { values: { round } },
      build: async () => {
        runs.push(`quick ${round}`);
        if (fail) throw new Error('quick fails');
        return 'quick';
      },
    });
    return [slow, quick, alias('s', 's', [slow, quick])];
  };
  await build(root, { targets: make('one', false), requested: ['s'] });
  const failed = await build(root, { targets: make('two', true), requested: ['s'], jobs: 2 });
  assert.is(failed.entries['s:slow']!.outcome, 'cancelled');
  assert.is(failed.entries['s:quick']!.outcome, 'failed');
  runs.length = 0;
  const back = await build(root, { targets: make('one', false), requested: ['s'] });
  assert.equal(runs, []);
  assert.equal(withOutcome(back, 'up-to-date'), ['s:quick', 's:slow']);
});

test('a target with a probe (artefacts outside output/) is invalidated before its build and written only after success', async () => {
  const root = fresh();
  const external = (setting: string, fail: boolean) =>
    target({
      name: 'x:container', description: '', deps: {}, inputs: { values: { setting } },
      probe: async () => undefined,
      build: async (ctx): Promise<string> => {
        if (!fail) return 'c1';
        const read = readRecord(ctx.outDir, 'x:container');
        assert.ok(read.kind === 'ok' && read.invalidated, 'invalidated while it builds');
        throw new Error('fails half-way: the container may be half changed');
      },
    });
  await build(root, { targets: [external('a', false)], requested: ['x:container'] });
  const report = await build(root, { targets: [external('b', true)], requested: ['x:container'] });
  assert.not.ok(report.ok);
  assert.is(readStoredResult(join(root, 'output'), 'x:container'), undefined);
  const again = await build(root, { targets: [external('a', false)], requested: ['x:container'] });
  assert.is(again.entries['x:container']!.reason, 'the last build failed or was interrupted');
  assert.is(readStoredResult(join(root, 'output'), 'x:container'), 'c1');
});

test('dry run decides without building or writing, and dependents of would-build say so', async () => {
  const root = fresh();
  await build(root, { targets: project(root).targets, requested: ['all'] });
  write(root, 'in.txt', 'three');
  const p = project(root);
  const report = await build(root, { targets: p.targets, requested: ['all'], dryRun: true });
  assert.equal(p.runs, []);
  assert.is(report.entries['g:in']!.outcome, 'would-build');
  assert.is(report.entries['g:mid']!.reason, 'dependency g:in would rebuild');
  assert.is(report.entries['h:top']!.reason, 'dependency g:mid would rebuild');
  const real = await build(root, { targets: project(root).targets, requested: ['all'] });
  assert.equal(withOutcome(real, 'built'), ['g:in']);
});

test.run();
