// The last build run's own log, `<outDir>/last-run.log`: what the run printed, as plain progress lines
// (never the live status line), written as the run goes (a killed or hung run leaves what it got to)
// and holding nothing in memory but the few lines printed before the build started. The file is opened
// only when a real build starts, with the lock held: a dry run, --help, a usage error or a run refused
// because another holds the lock leave the last real run's log alone.

import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter } from '../engine/index.ts';
import type { Out } from './reporter.ts';

/** The file name under the state directory. */
export const RUN_LOG = 'last-run.log';

/** Lines printed before the build starts are kept up to this many characters (spec lines, warnings). */
const PENDING_LIMIT = 64 * 1024;

export class RunLog implements Out {
  private fd: number | undefined;
  private pending: string[] = [];
  private pendingSize = 0;
  private failed = false;

  constructor(
    private file: string,
    private readonly header: string,
  ) {}

  get path(): string {
    return this.file;
  }

  /** Where the log goes, once the state directory is known (a flag may choose it); only before it opens. */
  moveTo(path: string): void {
    if (this.fd === undefined) this.file = path;
  }

  /** Appends text: to the file once open, else to the pending lines (dropped if the log never opens). */
  write(text: string): void {
    if (this.fd !== undefined) return this.append(text);
    if (this.failed || this.pendingSize + text.length > PENDING_LIMIT) return;
    this.pending.push(text);
    this.pendingSize += text.length;
  }

  /** Starts the file (truncating the previous run's) with the header and what was printed so far. */
  open(): void {
    if (this.fd !== undefined || this.failed) return;
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      this.fd = openSync(this.file, 'w', 0o644);
    } catch {
      // The log is a convenience: a state directory that refuses it must not fail the build.
      this.failed = true;
      return;
    }
    this.append(this.header);
    for (const text of this.pending) this.append(text);
    this.pending = [];
  }

  get opened(): boolean {
    return this.fd !== undefined;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(text: string): void {
    try {
      // Synchronous: nothing is lost when the CLI calls process.exit right after the run.
      writeSync(this.fd!, text);
    } catch {
      this.close();
      this.failed = true;
    }
  }
}

/** `out` that also writes everything to `log`. */
export function teeOut(out: Out, log: RunLog): Out {
  return {
    write: (text: string) => {
      log.write(text);
      return out.write(text);
    },
    get isTTY() {
      return out.isTTY;
    },
    get columns() {
      return out.columns;
    },
  };
}

/** Every event to both reporters; the log opens when a real (not dry) run starts. */
export function reportBoth(terminal: Reporter & { dispose(): void }, file: Reporter, log: RunLog): Reporter & { dispose(): void } {
  return {
    start(info) {
      if (!info.dryRun) log.open();
      terminal.start?.(info);
      file.start?.(info);
    },
    targetStart(name, reason) {
      terminal.targetStart?.(name, reason);
      file.targetStart?.(name, reason);
    },
    targetLog(name, message) {
      terminal.targetLog?.(name, message);
      file.targetLog?.(name, message);
    },
    targetEnd(name, entry) {
      terminal.targetEnd?.(name, entry);
      file.targetEnd?.(name, entry);
    },
    end(report) {
      terminal.end?.(report);
      file.end?.(report);
    },
    dispose() {
      terminal.dispose();
    },
  };
}
