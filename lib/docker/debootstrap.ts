// Builds a Debian root filesystem with debootstrap in a temporary directory (outside the project) and
// imports it as an image: the offline way to get a base image when no registry answers.

import type Dockerode from 'dockerode';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../run-command.ts';
import { DockerError } from './errors.ts';
import { importRootfs, type ProgressSink } from './images.ts';

export type DebootstrapOptions = {
  suite: string;
  variant?: string;
  mirror?: string;
  /** Debian's name of the CPU (`arm64`); absent: the host's. Another one's second stage runs under qemu-user (binfmt_misc). */
  arch?: string;
  /** repo:tag of the imported image. */
  tag: string;
  /** Dockerfile instructions applied at import (CMD, LABEL...). */
  changes?: string[];
  onProgress?: ProgressSink;
  signal?: AbortSignal;
};

const DEBOOTSTRAP_PATHS = ['/usr/sbin/debootstrap', '/sbin/debootstrap', '/usr/bin/debootstrap'];

export function findDebootstrap(): string | undefined {
  return DEBOOTSTRAP_PATHS.find((p) => existsSync(p));
}

/** Runs debootstrap, imports the tree as `tag`, removes the tree; returns the image ID. */
export async function debootstrapImage(docker: Dockerode, options: DebootstrapOptions): Promise<string> {
  const debootstrap = findDebootstrap();
  if (!debootstrap) {
    throw new DockerError('debootstrap is not installed, and no registry answered to pull a base image', 'install it: `sudo apt-get install -y debootstrap`');
  }
  if (process.getuid?.() !== 0) {
    throw new DockerError('debootstrap needs root (it creates device nodes and chroots)', 'run the build as root, or load a debian image with `docker load`');
  }
  // Under the system temp dir, never the repo: the tree holds device nodes and ~200 MB.
  const dir = await mkdtemp(join(tmpdir(), 'harder-debootstrap-'));
  const rootfs = join(dir, 'rootfs');
  try {
    const args = [`--variant=${options.variant ?? 'minbase'}`, ...(options.arch ? [`--arch=${options.arch}`] : []), options.suite, rootfs, options.mirror ?? 'http://deb.debian.org/debian'];
    await runCommand([debootstrap, ...args], {
      onLine: options.onProgress,
      signal: options.signal,
      failHint: 'check that the Debian mirror is reachable (`apt-get update` works)',
    });
    const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarErr = '';
    tar.stderr.on('data', (chunk: Buffer) => (tarErr += chunk.toString()));
    const tarExit = new Promise<number>((resolve) => tar.on('close', (code) => resolve(code ?? 1)));
    options.onProgress?.(`importing ${rootfs} as ${options.tag}`);
    const id = await importRootfs(docker, tar.stdout, options.tag, { changes: options.changes, signal: options.signal });
    if ((await tarExit) !== 0) throw new DockerError(`tar of ${rootfs} failed: ${tarErr.trim()}`);
    return id;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
