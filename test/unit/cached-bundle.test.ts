// lib/cached-bundle.mjs, which lets harder.mjs run the CLI without tsx: a bundle is rebuilt when an input's
// content changed and only then (a touched but unchanged file costs a hash), each file keeps its own
// import.meta.url, and `node harder.mjs` answers as `tsx tasks.ts` does.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cachedBundle } from '../../lib/cached-bundle.mjs';

const dir = mkdtempSync(join(tmpdir(), 'harder-bundle-'));
const cacheDir = join(dir, 'cache');
const entry = join(dir, 'entry.ts');
const dep = join(dir, 'dep.ts');
test.after(() => rmSync(dir, { recursive: true, force: true }));

const runBundle = (path: string) => execFileSync(process.execPath, [path], { encoding: 'utf8' }).trim();

test('a bundle runs in plain node; each file sees its own import.meta.url', async () => {
  writeFileSync(dep, "export const greeting: string = 'one';\nexport const where = import.meta.url;\n");
  writeFileSync(entry, "import { greeting, where } from './dep.ts';\nconst here: string = import.meta.url;\nconsole.log(JSON.stringify({ greeting, where, here }));\n");
  const out = await cachedBundle(entry, { cacheDir });
  assert.equal(JSON.parse(runBundle(out)), { greeting: 'one', where: pathToFileURL(dep).href, here: pathToFileURL(entry).href });
});

test('unchanged inputs: the same bundle, not rebuilt; touched but unchanged: not rebuilt either', async () => {
  const out = await cachedBundle(entry, { cacheDir });
  const before = statSync(out);
  assert.is(await cachedBundle(entry, { cacheDir }), out);
  utimesSync(dep, new Date(), new Date(Date.now() + 5000));
  assert.is(await cachedBundle(entry, { cacheDir }), out);
  const after = statSync(out);
  assert.is(after.ino, before.ino, 'the bundle file was not rewritten');
  assert.is(after.mtimeMs, before.mtimeMs);
});

test('an edited import is in the next bundle', async () => {
  writeFileSync(dep, "export const greeting: string = 'two';\nexport const where = import.meta.url;\n");
  const out = await cachedBundle(entry, { cacheDir });
  assert.is(JSON.parse(runBundle(out)).greeting, 'two');
});

test('node harder.mjs --help prints what tsx tasks.ts --help prints', () => {
  const root = process.cwd();
  const viaTsx = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'tasks.ts'), '--help'], { cwd: root, encoding: 'utf8' });
  const viaBundle = execFileSync(process.execPath, [join(root, 'harder.mjs'), '--help'], { cwd: root, encoding: 'utf8' });
  assert.ok(viaTsx.includes('bin:kubernetes'), 'the help lists the targets');
  assert.is(viaBundle, viaTsx);
});

test.run();
