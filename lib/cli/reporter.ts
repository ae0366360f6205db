// Progress views: a live compact status line on a terminal (done/total, running targets, elapsed) and
// plain lines otherwise (not a TTY, or CI set). Both end with a summary line.

import type { BuildReport, Entry, Reporter } from '../engine/index.ts';

export type Out = { write(text: string): unknown; isTTY?: boolean; columns?: number };

export type ReporterOptions = {
  out: Out;
  /** Live status line (TTY and not CI) or plain lines. */
  live: boolean;
  explain: boolean;
  verbose: boolean;
};

const seconds = (ms: number): string => (ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`);

/** The end-of-run summary line. */
export function summaryLine(report: BuildReport, dryRun: boolean): string {
  const count = { built: 0, 'up-to-date': 0, failed: 0, skipped: 0, 'would-build': 0, cancelled: 0 };
  let repaired = 0;
  for (const entry of Object.values(report.entries)) {
    if (entry.alias) continue;
    count[entry.outcome]++;
    if (entry.repaired) repaired++;
  }
  const upToDate = `${count['up-to-date']} up to date${repaired ? ` (${repaired} ${dryRun ? 'would be ' : ''}repaired)` : ''}`;
  const parts = dryRun
    ? [`${count['would-build']} would build`, upToDate]
    : [`${count.built} built`, upToDate, `${count.failed} failed`];
  if (count.skipped) parts.push(`${count.skipped} skipped`);
  if (count.cancelled) parts.push(`${count.cancelled} cancelled`);
  return `${dryRun ? 'dry run: ' : ''}${parts.join(', ')} in ${seconds(report.ms)}`;
}

export function createReporter(opts: ReporterOptions): Reporter & { dispose(): void } {
  const { out } = opts;
  const running = new Map<string, number>();
  let total = 0;
  let done = 0;
  let dryRun = false;
  const started = performance.now();
  let statusShown = false;
  let timer: NodeJS.Timeout | undefined;

  const clearStatus = (): void => {
    if (statusShown) out.write('\r\x1b[K');
    statusShown = false;
  };
  const drawStatus = (): void => {
    if (!opts.live) return;
    const names = [...running.keys()];
    const width = Math.max(40, (out.columns ?? 100) - 1);
    let line = `[${done}/${total}] ${seconds(performance.now() - started)}`;
    if (names.length) line += `  running: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` (+${names.length - 3})` : ''}`;
    if (line.length > width) line = `${line.slice(0, width - 1)}…`;
    out.write(`\r\x1b[K${line}`);
    statusShown = true;
  };
  /** Prints a permanent line (above the status line on a terminal). */
  const print = (line: string): void => {
    clearStatus();
    out.write(`${line}\n`);
    drawStatus();
  };

  return {
    start(info) {
      total = info.total;
      dryRun = info.dryRun;
      if (opts.live && !dryRun) {
        timer = setInterval(drawStatus, 200);
        timer.unref();
      }
    },
    targetStart(name, reason) {
      running.set(name, performance.now());
      if (opts.explain) print(`▶ ${name}: ${reason}`);
      else if (!opts.live) print(`▶ ${name}`);
      else drawStatus();
    },
    targetLog(name, message) {
      print(`  ${name}: ${message}`);
    },
    targetEnd(name: string, entry: Entry) {
      running.delete(name);
      if (!entry.alias) done++;
      switch (entry.outcome) {
        case 'built':
          print(`✓ ${name} (${seconds(entry.ms)})`);
          break;
        case 'failed':
          print(`✗ ${name}: ${entry.reason}`);
          break;
        case 'would-build':
          if (!entry.alias) print(`would build ${name}: ${entry.reason}`);
          break;
        case 'skipped':
          print(`- ${name} skipped: ${entry.reason}`);
          break;
        case 'cancelled':
          if (opts.verbose) print(`- ${name} cancelled: ${entry.reason}`);
          break;
        case 'up-to-date':
          // Put back without a rebuild (a drifted file mode): always shown, it changed a file.
          if (entry.repaired) print(dryRun ? `would repair ${name}: ${entry.reason}` : `↺ ${name}: ${entry.reason} (repaired, not rebuilt)`);
          else if (opts.verbose && !entry.alias) print(`  ${name} up to date`);
          else drawStatus();
          break;
      }
    },
    end(report) {
      if (timer) clearInterval(timer);
      clearStatus();
      out.write(`${summaryLine(report, dryRun)}\n`);
    },
    dispose() {
      if (timer) clearInterval(timer);
      clearStatus();
    },
  };
}
