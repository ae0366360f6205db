// A loop of HTTP GETs against one URL (a NodePort, an Ingress), for the availability figures the
// integration tests quote: how many requests, how many failed (not 200, refused, reset, or no answer
// within 2 s), when, and the longest gap between two answered requests.

import { request as httpRequest } from 'node:http';

export type LoopCounts = { requests: number; failures: number; longestGapMs: number; failuresAt: string[] };

/** One GET on a fresh connection (agent: false, as a new client would): true on a 200. */
export function get(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** `requests, failed, longest gap` as the closing notes quote it. */
export function describeCounts(url: string, counts: LoopCounts): string {
  return `${counts.requests} requests, ${counts.failures} failed, longest gap ${counts.longestGapMs} ms against ${url}${counts.failuresAt.length ? ` (failures at ${counts.failuresAt.join(', ')})` : ''}`;
}

/**
 * Requests every `everyMs` (100) until stopped or `maxMs` (20 min) has passed, whichever is first.
 * `stop(what)` ends it and prints the counts with `what` the loop ran through.
 */
export function requestLoop(url: string, options: { everyMs?: number; maxMs?: number } = {}) {
  const everyMs = options.everyMs ?? 100;
  const maxMs = options.maxMs ?? 20 * 60_000;
  const counts: LoopCounts = { requests: 0, failures: 0, longestGapMs: 0, failuresAt: [] };
  let stopped = false;
  const done = (async () => {
    const started = Date.now();
    let lastOk = Date.now();
    while (!stopped && Date.now() - started < maxMs) {
      const at = Date.now();
      const ok = await get(url, 2000);
      counts.requests++;
      if (ok) {
        counts.longestGapMs = Math.max(counts.longestGapMs, Date.now() - lastOk);
        lastOk = Date.now();
      } else {
        counts.failures++;
        if (counts.failuresAt.length < 10) counts.failuresAt.push(new Date(at).toISOString());
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - at))));
    }
  })();
  return {
    counts,
    stop: async (what: string): Promise<LoopCounts> => {
      stopped = true;
      await done;
      process.stdout.write(`request loop through ${what}: ${describeCounts(url, counts)}\n`);
      return counts;
    },
  };
}
