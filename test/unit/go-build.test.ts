// lib/go-build.ts's goBuild: several main packages in one `go build`, each binary renamed to its own
// output only once the whole build succeeded. A two-package module on disk (no network, the standard
// library from the shared build cache: a few seconds).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { buildLabel, gcflagsFor, goBinaryName, goBuild, prepareWrapperModule, type WrapperModuleSpec } from '../../lib/go-build.ts';

const run = promisify(execFile);

async function twoCommandModule(brokenBeta = false): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'harder-gobuild-'));
  await writeFile(join(dir, 'go.mod'), 'module example.local/multi\n\ngo 1.24\n');
  for (const name of ['alpha', 'beta']) {
    await mkdir(join(dir, 'cmd', name), { recursive: true });
    const body = brokenBeta && name === 'beta' ? 'func main() { undefinedCall() }' : `func main() { println("${name} says hi") }`;
    await writeFile(join(dir, 'cmd', name, 'main.go'), `package main\n\n${body}\n`);
  }
  return dir;
}

test('one go build makes every package, each binary at its own output', async () => {
  const dir = await twoCommandModule();
  const out = join(dir, 'bin');
  const lines: string[] = [];
  try {
    const outputs = { 'example.local/multi/cmd/alpha': join(out, 'first'), 'example.local/multi/cmd/beta': join(out, 'nested', 'second') };
    await goBuild({ dir, outputs, ldflags: ['-s', '-w'], log: (line) => lines.push(line) });
    // println writes to stderr.
    assert.is((await run(join(out, 'first'))).stderr.trim(), 'alpha says hi');
    assert.is((await run(join(out, 'nested', 'second'))).stderr.trim(), 'beta says hi');
    assert.equal((await readdir(out)).sort(), ['first', 'nested'], 'the temp directory is gone');
    assert.ok(lines.some((l) => l.startsWith('go build alpha, beta: done in')), lines.join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a main package at a major-version suffix (like go.etcd.io/etcd/server/v3): go names its binary after the element before it, and so does goBuild', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'harder-gobuild-'));
  try {
    await writeFile(join(dir, 'go.mod'), 'module example.local/server/v3\n\ngo 1.24\n');
    await writeFile(join(dir, 'main.go'), 'package main\n\nfunc main() { println("v3 says hi") }\n');
    await mkdir(join(dir, 'tool', 'v2'), { recursive: true });
    await writeFile(join(dir, 'tool', 'v2', 'main.go'), 'package main\n\nfunc main() { println("tool says hi") }\n');
    const out = join(dir, 'bin');
    await goBuild({ dir, outputs: { 'example.local/server/v3': join(out, 'etcd'), 'example.local/server/v3/tool/v2': join(out, 'etcdctl') }, ldflags: [] });
    assert.is((await run(join(out, 'etcd'))).stderr.trim(), 'v3 says hi');
    assert.is((await run(join(out, 'etcdctl'))).stderr.trim(), 'tool says hi');
    assert.is(goBinaryName('example.local/server/v3'), 'server');
    assert.is(goBinaryName('k8s.io/kubernetes/cmd/kubelet'), 'kubelet');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed build leaves no binary, not even of the package that compiled', async () => {
  const dir = await twoCommandModule(true);
  const out = join(dir, 'bin');
  await mkdir(out);
  try {
    const outputs = { 'example.local/multi/cmd/alpha': join(out, 'alpha'), 'example.local/multi/cmd/beta': join(out, 'beta') };
    try {
      await goBuild({ dir, outputs, ldflags: [] });
      assert.unreachable('beta does not compile');
    } catch (error) {
      assert.match((error as Error).message, 'exited');
      assert.match(JSON.stringify(error), 'undefinedCall');
    }
    assert.equal(await readdir(out), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('two packages that would make binaries of the same name are refused before go runs', async () => {
  const outputs = { 'example.local/a/cmd/tool': '/nonexistent/a', 'example.local/b/cmd/tool': '/nonexistent/b' };
  try {
    await goBuild({ dir: '/nonexistent', outputs, ldflags: [] });
    assert.unreachable('the names collide');
  } catch (error) {
    assert.match((error as Error).message, 'two packages build a binary named tool');
  }
  assert.not.ok(existsSync('/nonexistent'));
});

test("a wrapper's own main package (sources) is written into it, built, and left out of tools.go", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'harder-wrapper-'));
  const spec: WrapperModuleSpec = {
    module: 'example.local/wrap',
    goDirective: '1.24',
    godebug: [],
    require: {},
    replace: {},
    packages: ['example.local/wrap/greet'],
    sources: { 'greet/main.go': 'package main\n\nfunc main() { println("generated main") }\n' },
  };
  await prepareWrapperModule(dir, spec);
  assert.not.match(await readFile(join(dir, 'tools.go'), 'utf8'), 'example.local/wrap/greet');
  // Stripped like every build here, so the compiler makes no DWARF either (gcflagsFor).
  await goBuild({ dir, outputs: { 'example.local/wrap/greet': join(dir, 'bin', 'greet') }, ldflags: ['-s', '-w'] });
  const { stderr } = await run(join(dir, 'bin', 'greet'));
  assert.is(stderr.trim(), 'generated main');
  await rm(dir, { recursive: true, force: true });
});

test('a wrapper source outside the wrapper is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'harder-wrapper-'));
  const spec: WrapperModuleSpec = { module: 'example.local/evil', goDirective: '1.24', godebug: [], require: {}, replace: {}, packages: [], sources: { '../escape.go': 'package x\n' } };
  try {
    await prepareWrapperModule(dir, spec);
    assert.unreachable('the path leaves the wrapper');
  } catch (error) {
    assert.match((error as Error).message, 'wrapper source ../escape.go is not a path inside the wrapper module');
  }
  assert.not.ok(existsSync(join(dir, '..', 'escape.go')));
  await rm(dir, { recursive: true, force: true });
});

test('the compiler skips DWARF only where the linker drops it (-w)', () => {
  assert.equal(gcflagsFor(['-s', '-w', '-X main.version=1']), ['-gcflags=all=-dwarf=false']);
  assert.equal(gcflagsFor(['-X main.version=1']), []);
  assert.equal(gcflagsFor([]), []);
});

test('progress label: up to two names, then a count', () => {
  assert.is(buildLabel(['k8s.io/kubernetes/cmd/kubelet']), 'kubelet');
  assert.is(buildLabel(['x/cmd/a', 'x/cmd/b']), 'a, b');
  assert.is(buildLabel(['x/cmd/a', 'x/cmd/b', 'x/cmd/c', 'x/cmd/d']), 'a, b and 2 more');
});

test.run();
