// Reads what one uvu test file printed and judges it (used by test/run.ts).
//
// uvu's summary alone can be fooled: `Total` counts the tests that ran (skipped ones are not in it),
// `Skipped` lumps `test.skip` together with the tests a leftover `test.only` hid, and a file that crashes,
// hangs or registers nothing prints no summary or an empty one. So a file passes only when its summary is
// there, consistent and non-empty, its exit code agrees, no `.only` was used, and every skipped test was
// named by a `[skip]` line (test/lib/skip.ts).

/** Reads uvu's final summary (Total / Passed / Skipped) from a file's output, colour codes removed. */
export function parseSummary(output: string): { total: number; passed: number; skipped: number } | undefined {
  const text = plain(output);
  const total = /^\s*Total:\s+(\d+)\s*$/gm;
  let last: RegExpExecArray | null = null;
  for (let m = total.exec(text); m; m = total.exec(text)) last = m;
  if (!last) return undefined;
  const rest = text.slice(last.index);
  const passed = /^\s*Passed:\s+(\d+)/m.exec(rest);
  const skipped = /^\s*Skipped:\s+(\d+)/m.exec(rest);
  return { total: Number(last[1]), passed: passed ? Number(passed[1]) : 0, skipped: skipped ? Number(skipped[1]) : 0 };
}

export type Skip = { name: string; reason: string };

/** The `[skip]` and `[only]` lines test/lib/skip.ts printed (anywhere in a line: uvu's dots have no newline). */
export function parseMarks(output: string): { skips: Skip[]; only: string[] } {
  const text = plain(output);
  const quoted = String.raw`("(?:[^"\\\n]|\\.)*")`;
  const skips = [...text.matchAll(new RegExp(String.raw`\[skip\] ${quoted}: ([^\n]*)`, 'g'))].map((m) => ({ name: JSON.parse(m[1]!) as string, reason: m[2]! }));
  const only = [...text.matchAll(new RegExp(String.raw`\[only\] ${quoted}`, 'g'))].map((m) => JSON.parse(m[1]!) as string);
  return { skips, only };
}

export type FileOutcome = {
  passed: number;
  /** Failed tests plus one per problem, so a file with a problem never counts as passing. */
  failed: number;
  skipped: number;
  skips: Skip[];
  /** Why the file fails beyond its failed tests: crash, timeout, no test, `.only`, inconsistent counts. */
  problems: string[];
};

/** Judges one file from its output and how its process ended. */
export function judgeFile(run: { output: string; code: number | null; signal?: NodeJS.Signals | null; timedOutMs?: number }): FileOutcome {
  const problems: string[] = [];
  const exit = run.code ?? run.signal ?? 'unknown';
  const summary = parseSummary(run.output);
  const { skips, only } = parseMarks(run.output);
  if (run.timedOutMs !== undefined) problems.push(`timed out after ${run.timedOutMs / 1000}s`);
  if (!summary) {
    if (run.timedOutMs === undefined) problems.push(run.code === 0 ? 'exited 0 without uvu’s summary (no test.run()?)' : `crashed before reporting (exit ${exit})`);
    return { passed: 0, failed: problems.length, skipped: 0, skips, problems };
  }
  let passed = summary.passed;
  let failedTests = summary.total - passed;
  if (failedTests < 0) {
    // Not a count to trust: none of its passes are added.
    problems.push(`inconsistent summary: ${passed} passed of ${summary.total} run`);
    [passed, failedTests] = [0, 0];
  }
  if (summary.total === 0) problems.push(summary.skipped ? `ran no test (${summary.skipped} skipped)` : 'ran no test');
  if (only.length) {
    const hidden = summary.skipped - skips.length;
    problems.push(`test.only ${only.map((n) => JSON.stringify(n)).join(', ')} left ${hidden} other test${hidden === 1 ? '' : 's'} unrun`);
  } else if (summary.skipped > skips.length) {
    const n = summary.skipped - skips.length;
    problems.push(`${n} skipped test${n === 1 ? '' : 's'} not named (a suite’s .skip or .only?): use test.skip or testIf from test/lib/skip.ts`);
  } else if (summary.skipped < skips.length) {
    problems.push(`inconsistent summary: ${skips.length} skips named but uvu counted ${summary.skipped}`);
  }
  if (run.timedOutMs === undefined && run.code !== 0 && failedTests === 0) problems.push(`exited ${exit} after its tests passed`);
  if (run.code === 0 && failedTests > 0) problems.push(`exited 0 despite ${failedTests} failed`);
  return { passed, failed: failedTests + problems.length, skipped: summary.skipped, skips, problems };
}

// eslint-disable-next-line no-control-regex
const plain = (output: string): string => output.replace(/\x1b\[[0-9;]*m/g, '');
