// Waits until systemd in a container has finished booting (`systemctl is-system-running` says running
// or degraded), with a bounded wait; on timeout the error lists the failing units.

import { DockerError } from './errors.ts';
import type { NodeHandle } from '../node/handle.ts';

export class SystemdNotReadyError extends DockerError {}

export type SystemdState = 'running' | 'degraded';

/**
 * Polls `systemctl is-system-running`. "starting"/"initializing" (and exec failures while PID 1 is still
 * coming up) mean wait; "running"/"degraded" mean ready; "maintenance"/"stopping" fail at once.
 */
export async function waitForSystemd(node: NodeHandle, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<SystemdState> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const deadline = Date.now() + timeoutMs;
  let state = 'unknown';
  let delay = 100;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const result = await node.exec(['systemctl', 'is-system-running'], { allowFailure: true, signal: options.signal });
      state = result.stdout.toString('utf8').trim() || result.stderr.toString('utf8').trim() || `exit ${result.exitCode}`;
    } catch (error) {
      if (options.signal?.aborted) throw error;
      state = error instanceof Error ? error.message : String(error);
    }
    if (state === 'running' || state === 'degraded') return state;
    if (state === 'maintenance' || state === 'stopping') break;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 1000);
  }
  const failed = await node
    .exec(['systemctl', '--failed', '--no-legend', '--plain'], { allowFailure: true })
    .then((r) => r.stdout.toString('utf8').trim())
    .catch(() => '');
  const jobs = await node
    .exec(['systemctl', 'list-jobs', '--no-legend', '--plain'], { allowFailure: true })
    .then((r) => r.stdout.toString('utf8').trim())
    .catch(() => '');
  throw new SystemdNotReadyError(
    `${node.name}: systemd is "${state}" after ${Math.round(timeoutMs / 1000)} s, not running` +
      (failed ? `\nfailed units:\n${failed}` : '') +
      (jobs ? `\npending jobs:\n${jobs}` : ''),
    `see \`docker logs ${node.name}\` and \`docker exec ${node.name} journalctl -b -p warning\``,
  );
}
