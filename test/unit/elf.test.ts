// lib/elf.ts reads what an ELF executable is for without running it: the build host's node binary (dynamic),
// headers written here for other CPUs (no program headers: static), and a file that is no ELF at all.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfFacts, elfProblem } from '../../lib/elf.ts';
import { hostArch } from '../../lib/host-arch.ts';

const dir = mkdtempSync(join(tmpdir(), 'harder-t-elf-'));

/** A 64-bit little-endian ELF header for `machine` with no program headers, as a static binary has no PT_INTERP. */
function header(machine: number): string {
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x7f454c46, 0);
  h[4] = 2; // ELFCLASS64
  h[5] = 1; // little-endian
  h[6] = 1;
  h.writeUInt16LE(2, 16); // ET_EXEC
  h.writeUInt16LE(machine, 18);
  h.writeBigUInt64LE(64n, 32); // e_phoff
  h.writeUInt16LE(56, 54); // e_phentsize
  h.writeUInt16LE(0, 56); // e_phnum
  const file = join(dir, `elf-${machine}`);
  writeFileSync(file, h);
  return file;
}

test('the build host\'s node is for its CPU and dynamically linked', async () => {
  assert.equal(await elfFacts(process.execPath), { arch: hostArch(), static: false });
  assert.is(await elfProblem(process.execPath), undefined);
  assert.match((await elfProblem(process.execPath, hostArch(), { static: true }))!, 'is dynamically linked');
});

test('an arm64 and an amd64 header are told apart, and a mix-up names both CPUs', async () => {
  const arm = header(183);
  const amd = header(62);
  assert.equal(await elfFacts(arm), { arch: 'arm64', static: true });
  assert.equal(await elfFacts(amd), { arch: 'amd64', static: true });
  assert.is(await elfProblem(arm, 'arm64', { static: true }), undefined);
  assert.is(await elfProblem(amd, 'arm64'), `${amd} is built for amd64, not arm64`);
  assert.is((await elfFacts(header(999)))?.arch, 'machine 999');
});

test('a file that is no ELF, or none at all, is a problem, not a crash', async () => {
  const text = join(dir, 'script.sh');
  writeFileSync(text, '#!/bin/sh\necho hi\n'.padEnd(80, '#'));
  assert.is(await elfFacts(text), undefined);
  assert.is(await elfProblem(text, 'arm64'), `${text} is not a 64-bit ELF executable`);
  assert.is(await elfProblem(join(dir, 'missing'), 'arm64'), `${join(dir, 'missing')} is not a 64-bit ELF executable`);
});

test.run();
