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

/**
 * `kubectl drain` by evictions (PodDisruptionBudgets respected), DaemonSet pods left, bounded by
 * `timeoutS`: undefined when it finished, else kubectl's last lines, for the caller's own error (a removal
 * and an upgrade leave different things behind). The node must be cordoned already.
 */
export async function drainNode(kubectl: Kubectl, node: string, timeoutS: number, signal: AbortSignal): Promise<{ exitCode: number; last: string } | undefined> {
  const drained = await kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', `--timeout=${timeoutS}s`], {
    allowFailure: true,
    timeoutMs: (timeoutS + 30) * 1000,
    signal,
  });
  if (drained.exitCode === 0) return undefined;
  return { exitCode: drained.exitCode, last: (drained.stderr || drained.stdout).split('\n').slice(-5).join('\n') };
}
