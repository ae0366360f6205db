// What cluster:smoke checks when metrics-server is on: `kubectl top nodes` lists every worker with CPU and
// memory figures, and `kubectl top pods -A` answers with the pods' figures. The first figures come one
// scrape (15 s) after metrics-server starts, so both are retried for a while.

import { sleep } from '../../cluster/node-targets.ts';
import type { SmokeAddonCheck } from '../../cluster/smoke-checks.ts';

/** `kubectl top nodes --no-headers` lines: NAME CPU(cores) CPU% MEMORY(bytes) MEMORY%; the workers that have numbers. */
export function nodesWithFigures(output: string): string[] {
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cells) => cells.length >= 5 && /^\d+m?$/.test(cells[1]!) && /^\d+%$/.test(cells[2]!) && /^\d+(Ki|Mi|Gi)$/.test(cells[3]!))
    .map((cells) => cells[0]!);
}

export function metricsSmokeChecks(p: { workers: readonly string[] }): SmokeAddonCheck[] {
  return [
    {
      name: 'kubectl top nodes lists every worker with numbers',
      run: async (env) => {
        let out = { stdout: '', stderr: '', exitCode: -1 };
        let missing: string[] = [...p.workers];
        for (let attempt = 0; attempt < 30 && missing.length; attempt++) {
          if (attempt > 0) await sleep(3000, env.signal);
          out = await env.kubectl(['top', 'nodes', '--no-headers'], { allowFailure: true });
          const listed = nodesWithFigures(out.stdout);
          missing = p.workers.filter((w) => !listed.includes(w));
        }
        return { ok: missing.length === 0, saw: `${(out.stdout || out.stderr).trim().split('\n').join('; ')}${missing.length ? `; no figures for ${missing.join(', ')}` : ''}` };
      },
    },
    {
      name: 'kubectl top pods -A answers',
      run: async (env) => {
        let out = { stdout: '', stderr: '', exitCode: -1 };
        for (let attempt = 0; attempt < 20; attempt++) {
          if (attempt > 0) await sleep(3000, env.signal);
          out = await env.kubectl(['top', 'pods', '-A', '--no-headers'], { allowFailure: true });
          if (out.exitCode === 0 && out.stdout.trim()) break;
        }
        const lines = out.stdout.trim().split('\n').filter(Boolean);
        return { ok: out.exitCode === 0 && lines.length > 0, saw: out.exitCode === 0 ? `${lines.length} pods with figures, e.g. ${lines[0]?.trim().split(/\s+/).join(' ')}` : out.stderr.trim() };
      },
    },
  ];
}
