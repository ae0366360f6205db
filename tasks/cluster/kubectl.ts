// Runs the built kubectl from the host with the admin kubeconfig (argv arrays, no shell), through the shared
// command runner: a failure is the CommandError any host command makes (argv, exit code, last lines).

import { runCommandResult } from '../../lib/run-command.ts';

export type Kubectl = (args: string[], opts?: { input?: string; timeoutMs?: number; allowFailure?: boolean; signal?: AbortSignal }) => Promise<{ stdout: string; stderr: string; exitCode: number }>;

/** Like execa's stripFinalNewline: callers compare and parse kubectl's output without its last newline. */
const stripFinalNewline = (text: string): string => text.replace(/\r?\n$/, '');

export function kubectlRunner(binary: string, kubeconfig: string): Kubectl {
  return async (args, opts = {}) => {
    // execa loads when kubectl first runs (lib/run-command.ts): a no-op run only probes through
    // api-client.ts, never spawning kubectl.
    const res = await runCommandResult([binary, '--kubeconfig', kubeconfig, ...args], {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 60_000,
      signal: opts.signal,
      allowFailure: opts.allowFailure,
    });
    return { stdout: stripFinalNewline(res.stdout), stderr: stripFinalNewline(res.stderr), exitCode: res.exitCode ?? -1 };
  };
}
