// Runs the built kubectl from the host with the admin kubeconfig (argv arrays, no shell).

import { ClusterError } from './errors.ts';

export type Kubectl = (args: string[], opts?: { input?: string; timeoutMs?: number; allowFailure?: boolean; signal?: AbortSignal }) => Promise<{ stdout: string; stderr: string; exitCode: number }>;

export function kubectlRunner(binary: string, kubeconfig: string): Kubectl {
  return async (args, opts = {}) => {
    // Imported when kubectl first runs: execa is ~130 modules (~65 ms of start-up), and a no-op run
    // only probes through api-client.ts, never spawning kubectl.
    const { execa } = await import('execa');
    const res = await execa(binary, ['--kubeconfig', kubeconfig, ...args], {
      input: opts.input,
      reject: false,
      timeout: opts.timeoutMs ?? 60_000,
      cancelSignal: opts.signal,
      stripFinalNewline: true,
    });
    const exitCode = res.exitCode ?? -1;
    if (exitCode !== 0 && !opts.allowFailure) {
      throw new ClusterError(`kubectl ${args.join(' ')} exited ${exitCode}: ${(res.stderr || res.stdout).split('\n').slice(-5).join('\n')}`, `try it yourself: ${binary} --kubeconfig ${kubeconfig} ${args.join(' ')}`);
    }
    return { stdout: String(res.stdout), stderr: String(res.stderr), exitCode };
  };
}
