// What an ELF executable's headers say about it without running it: the CPU it is for and whether it is
// statically linked. A binary built for another architecture than the build host's cannot be asked its
// version here, so this (and, for Go, its build information) is how such a binary is checked.

import { open } from 'node:fs/promises';
import { hostArch } from './host-arch.ts';

/** ELF e_machine values → Go's architecture names (the ones a node may run, and their neighbours). */
const MACHINES: Record<number, string> = { 3: '386', 40: 'arm', 62: 'amd64', 183: 'arm64', 21: 'ppc64le', 22: 's390x', 243: 'riscv64' };

export type ElfFacts = {
  /** Go's name for the CPU (`amd64`, `arm64`), or `machine <n>` for one without a name here. */
  arch: string;
  /** No program interpreter (PT_INTERP): runs with no libc of the system, as a FROM scratch image needs. */
  static: boolean;
};

/** The facts of a 64-bit little-endian ELF file, or undefined when the file is not one. */
export async function elfFacts(path: string): Promise<ElfFacts | undefined> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(64);
    const { bytesRead } = await file.read(header, 0, 64, 0);
    if (bytesRead < 64 || header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return undefined;
    const machine = header.readUInt16LE(18);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    await file.read(table, 0, table.length, phoff);
    let isStatic = true;
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) isStatic = false; // PT_INTERP
    return { arch: MACHINES[machine] ?? `machine ${machine}`, static: isStatic };
  } finally {
    await file.close();
  }
}

/**
 * Why `path` is not an executable for `arch` (and, with `static`, not a static one), or undefined. Names
 * what the file is instead, so a mix-up of architectures reads as one.
 */
export async function elfProblem(path: string, arch: string = hostArch(), options: { static?: boolean } = {}): Promise<string | undefined> {
  const facts = await elfFacts(path).catch(() => undefined);
  if (!facts) return `${path} is not a 64-bit ELF executable`;
  if (facts.arch !== arch) return `${path} is built for ${facts.arch}, not ${arch}`;
  if (options.static && !facts.static) return `${path} is dynamically linked and cannot run without the system's libc (a FROM scratch image has none)`;
  return undefined;
}
