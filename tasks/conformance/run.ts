// Runs the upstream conformance suite against the cluster the way kind's CI does (hack/ci/e2e-k8s.sh):
// e2e.test under the ginkgo CLI with --provider=skeleton, the non-[Serial] tests in parallel, then the
// [Serial] ones one at a time. Writes output/conformance/<time>/ (JUnit and JSON reports, the e2e logs,
// summary.json and summary.txt) and fails naming every failed test.

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CliError, StepError } from '../../lib/errors.ts';
import { combine, renderSummary, summarizePart, type ConformanceSummary, type PartSummary } from './report.ts';
import { CONFORMANCE_SKIPS, skipRegex } from './skips.ts';

export type ConformanceOptions = {
  /** Extra ginkgo --focus regular expression (ANDed with the conformance label filter). */
  focus?: string;
  /** Extra ginkgo --skip regular expression (added to the skip list). */
  skip?: string;
  /** Parallel ginkgo processes for the non-[Serial] part (kind's CI and the issue's measurement: 4). */
  procs: number;
  /** Which parts to run. */
  parts: ('parallel' | 'serial')[];
};

export const DEFAULT_OPTIONS: ConformanceOptions = { procs: 4, parts: ['parallel', 'serial'] };

export class ConformanceError extends StepError {}

/** Parses the command's pass-through arguments: `--focus R`, `--skip R`, `--procs N`, `--parallel-only`, `--serial-only`. */
export function parseConformanceArgs(args: string[]): ConformanceOptions {
  const options: ConformanceOptions = { ...DEFAULT_OPTIONS, parts: [...DEFAULT_OPTIONS.parts] };
  const usage = 'npx tsx tasks.ts conformance -- [--focus REGEX] [--skip REGEX] [--procs N] [--parallel-only | --serial-only]';
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.includes('=') ? [args[i]!.slice(0, args[i]!.indexOf('=')), args[i]!.slice(args[i]!.indexOf('=') + 1)] : [args[i]!, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new CliError('bad-command-args', `conformance: ${flag} needs a value`, usage);
      return v;
    };
    if (flag === '--focus') options.focus = value();
    else if (flag === '--skip') options.skip = value();
    else if (flag === '--procs') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new CliError('bad-command-args', `conformance: --procs wants a whole number ≥ 1, got ${args[i]}`, usage);
      options.procs = n;
    } else if (flag === '--parallel-only') options.parts = ['parallel'];
    else if (flag === '--serial-only') options.parts = ['serial'];
    else throw new CliError('bad-command-args', `conformance: unknown argument ${JSON.stringify(args[i])}`, `${usage} (the flags of tasks.ts itself, such as --config and --plain, go before the --)`);
  }
  for (const re of [options.focus, options.skip]) {
    try {
      if (re !== undefined) new RegExp(re);
    } catch (error) {
      throw new CliError('bad-command-args', `conformance: ${JSON.stringify(re)} is not a regular expression: ${(error as Error).message}`, usage);
    }
  }
  return options;
}

/** The ginkgo command line of one part (without the binary paths' directory). */
export function ginkgoArgs(part: 'parallel' | 'serial', o: ConformanceOptions, paths: { e2eTest: string; kubeconfig: string; kubectl: string; reportDir: string }): string[] {
  const skips = [skipRegex(), o.skip].filter((s): s is string => !!s);
  return [
    // The labels ConformanceIt and WithSerial() put on each spec: exactly the [Conformance] tests of one part.
    `--label-filter=${part === 'parallel' ? 'Conformance && !Serial' : 'Conformance && Serial'}`,
    ...(o.focus ? [`--focus=${o.focus}`] : []),
    ...skips.map((s) => `--skip=${s}`),
    ...(part === 'parallel' ? [`--procs=${o.procs}`] : []),
    '--timeout=4h',
    '--no-color',
    '-v',
    `--output-dir=${paths.reportDir}`,
    `--json-report=report-${part}.json`,
    `--junit-report=junit-${part}.xml`,
    paths.e2eTest,
    '--',
    `--kubeconfig=${paths.kubeconfig}`,
    '--provider=skeleton',
    `--kubectl-path=${paths.kubectl}`,
    // Node log dumps need SSH to nodes (the skeleton provider has none); the failure's own events are still logged.
    '--disable-log-dump',
  ];
}

/** Runs one part; its whole output goes to e2e-<part>.log, a progress line every minute to `log`. */
async function runPart(part: 'parallel' | 'serial', ginkgo: string, args: string[], reportDir: string, log: (line: string) => void, signal: AbortSignal): Promise<number> {
  const logFile = createWriteStream(join(reportDir, `e2e-${part}.log`));
  const started = Date.now();
  let done = 0;
  let failed = 0;
  const child = spawn(ginkgo, args, { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGINT' });
  let partial = '';
  const onData = (chunk: Buffer) => {
    logFile.write(chunk);
    const text = partial + chunk.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // ginkgo -v ends each spec with `• [12.345 seconds]` (passed) or `• [FAILED] [12.345 seconds]`.
      if (/^• (\[(FAILED|PANICKED|TIMEDOUT|INTERRUPTED)\] )?\[[\d.]+ seconds\]/.test(line)) {
        done++;
        if (/^• \[(FAILED|PANICKED|TIMEDOUT|INTERRUPTED)\]/.test(line)) failed++;
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setInterval(() => log(`${part}: ${done} tests done, ${failed} failed, ${Math.round((Date.now() - started) / 1000)} s`), 60_000);
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', (error) => reject(new ConformanceError(`cannot run ${ginkgo}: ${error.message}`)));
    child.on('close', (c) => resolve(c ?? 1));
  }).finally(() => clearInterval(timer));
  await new Promise<void>((resolve) => logFile.end(resolve));
  return code;
}

/** Runs the chosen parts, writes the summary, returns it (and throws naming the failures when there are any). */
export async function runConformance(options: ConformanceOptions, paths: { ginkgo: string; e2eTest: string; kubeconfig: string; kubectl: string; outDir: string; root: string }, log: (line: string) => void, signal: AbortSignal): Promise<ConformanceSummary> {
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const reportDir = join(paths.outDir, 'conformance', stamp);
  await mkdir(reportDir, { recursive: true });
  const listed = (name: string) => CONFORMANCE_SKIPS.some((s) => name.includes(s.test));
  const parts: PartSummary[] = [];
  for (const part of options.parts) {
    const args = ginkgoArgs(part, options, { ...paths, reportDir });
    await writeFile(join(reportDir, `command-${part}.txt`), `${[paths.ginkgo, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')}\n`);
    log(`${part} part: ginkgo ${part === 'parallel' ? `with ${options.procs} processes` : 'one test at a time'}, log in ${join(relative(paths.root, reportDir), `e2e-${part}.log`)}`);
    const started = Date.now();
    const code = await runPart(part, paths.ginkgo, args, reportDir, log, signal);
    const seconds = (Date.now() - started) / 1000;
    const json = await readFile(join(reportDir, `report-${part}.json`), 'utf8').catch(() => undefined);
    if (json === undefined) {
      const tail = (await readFile(join(reportDir, `e2e-${part}.log`), 'utf8').catch(() => '')).trim().split('\n').slice(-15).join('\n');
      throw new ConformanceError(`the ${part} part wrote no report (ginkgo exited ${code}); the end of its log:\n${tail}`, `see ${join(reportDir, `e2e-${part}.log`)}`);
    }
    const summary = summarizePart(part, json, seconds, listed);
    if (code !== 0 && summary.failed === 0) summary.failures.push({ name: `the ${part} part itself`, reason: [`ginkgo exited ${code} with no failed test; see e2e-${part}.log`] });
    parts.push(summary);
  }
  const summary = combine(parts);
  const text = renderSummary(summary, relative(paths.root, reportDir) || reportDir);
  await writeFile(join(reportDir, 'summary.json'), `${JSON.stringify({ ...summary, options }, null, 2)}\n`);
  await writeFile(join(reportDir, 'summary.txt'), text);
  for (const line of text.trimEnd().split('\n')) log(line);
  if (summary.failures.length > 0) {
    throw new ConformanceError(`${summary.failures.length} conformance test(s) failed: ${summary.failures.map((f) => f.name).join('; ')}`, `details in ${join(reportDir, 'summary.txt')} and the e2e logs beside it`);
  }
  return summary;
}
