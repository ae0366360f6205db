// `npx tsx tasks.ts kubectl <args…>`: the kubectl this project built (the one `bin:kubectl` recorded),
// with --kubeconfig output/kubeconfig/admin.kubeconfig (a --name cluster's own under output/clusters/<name>/), every argument passed through unparsed, its stdio
// the terminal's and its exit code ours. Builds nothing and prints nothing of its own, so its output
// pipes like kubectl's (`… kubectl get nodes -o json | jq`).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import type { ProjectCommand } from '../../lib/cli/index.ts';
import { readStoredResult } from '../../lib/engine/index.ts';
import { StepError } from '../../lib/errors.ts';
import type { ClusterConfig } from '../config/config.ts';
import type { BinaryResult } from '../binaries/index.ts';
import { kubeconfigPath } from '../certs/kubeconfig.ts';

/** Where the built kubectl and the admin kubeconfig are; a StepError saying what to build when either is missing. */
export function kubectlInvocation(config: ClusterConfig, root: string, outDir: string): { binary: string; kubeconfig: string } {
  const built = readStoredResult(outDir, 'bin:kubectl') as BinaryResult | undefined;
  const kubeconfig = resolve(root, kubeconfigPath(config, 'admin'));
  const build = 'npx tsx tasks.ts cluster (or just: npx tsx tasks.ts bin:kubectl kubeconfig:admin)';
  if (!built?.path || !existsSync(built.path)) throw new StepError(`no built kubectl${built?.path ? ` (${built.path} is gone)` : ' recorded yet'}`, `build it first: ${build}`);
  if (!existsSync(kubeconfig)) throw new StepError(`no admin kubeconfig (${kubeconfig})`, `build it first: ${build}`);
  return { binary: built.path, kubeconfig };
}

/** Runs `binary args…` on this process's stdio; resolves to its exit code (128 + n when killed by signal n, as a shell says). */
export function runInherited(binary: string, args: string[]): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(binary, args, { stdio: 'inherit' });
    // Ctrl-C reaches the child from the terminal; a SIGTERM sent to us alone is passed on.
    const forward = (): void => void child.kill('SIGTERM');
    process.on('SIGTERM', forward);
    child.on('error', (error) => {
      process.off('SIGTERM', forward);
      fail(new StepError(`${binary} could not be started: ${error.message}`, 'build it again: npx tsx tasks.ts bin:kubectl --force'));
    });
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', forward);
      done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

export const kubectlCommand: ProjectCommand<ClusterConfig> = {
  usage: '<kubectl arguments…>',
  description: 'run the built kubectl with output/kubeconfig/admin.kubeconfig; every argument after `kubectl` is kubectl\'s',
  passthrough: true,
  targets: () => [],
  async run(args, config, io) {
    const { binary, kubeconfig } = kubectlInvocation(config, io.root, io.outDir);
    return runInherited(binary, ['--kubeconfig', kubeconfig, ...args]);
  },
};
