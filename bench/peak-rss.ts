// Peak memory of a process tree: samples /proc every few hundred ms and sums the resident set of this
// process's descendants (go build, compile, link …). `/usr/bin/time -v` reports only the largest single
// process, while one `go build` of several binaries runs compiles and links side by side: their sum is
// what must fit in the machine. Shared pages are counted once per process, so this is an upper bound.

import { readdirSync, readFileSync } from 'node:fs';

const PAGE = 4096;

function descendantsRss(root: number): number {
  const parent = new Map<number, number>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(fields[1]));
      rss.set(Number(entry), Number(fields[21]) * PAGE);
    } catch {
      // The process ended between readdir and read.
    }
  }
  let total = 0;
  for (const [pid, bytes] of rss) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) {
        total += bytes;
        break;
      }
    }
  }
  return total;
}

/** Runs `work` while sampling; resolves with its value and the peak summed RSS of child processes (bytes). */
export async function withPeakRss<T>(work: () => Promise<T>, everyMs = 200): Promise<{ value: T; peakBytes: number }> {
  let peakBytes = 0;
  const timer = setInterval(() => {
    peakBytes = Math.max(peakBytes, descendantsRss(process.pid));
  }, everyMs);
  try {
    const value = await work();
    return { value, peakBytes };
  } finally {
    clearInterval(timer);
  }
}
