// Parses the summary uvu prints at the end of a test file (used by test/run.ts).

/** Reads uvu's final summary (Total / Passed / Skipped) from a file's output, colour codes removed. */
export function parseSummary(output: string): { total: number; passed: number; skipped: number } | undefined {
  // eslint-disable-next-line no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, '');
  const total = /^\s*Total:\s+(\d+)\s*$/gm;
  let last: RegExpExecArray | null = null;
  for (let m = total.exec(text); m; m = total.exec(text)) last = m;
  if (!last) return undefined;
  const rest = text.slice(last.index);
  const passed = /^\s*Passed:\s+(\d+)/m.exec(rest);
  const skipped = /^\s*Skipped:\s+(\d+)/m.exec(rest);
  return { total: Number(last[1]), passed: passed ? Number(passed[1]) : 0, skipped: skipped ? Number(skipped[1]) : 0 };
}

