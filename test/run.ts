// The test runner: runs each uvu test file in its own process (`node --import tsx <file>`), unit files
// first, then integration files in a fixed order, streams their output, lists the skipped tests by name
// and ends with `N passed, N failed` (`, N skipped` when any were); CI parses that line.
//
// Usage: tsx test/run.ts [unit | integration | <path or substring>…]
//   no argument: every unit file, then every integration file.
//   `unit` / `integration`: only that kind. A path to an existing file: that file, even outside test/unit
//   and test/integration (the runner's self-test points it at test/fixtures/runner/ this way). Anything
//   else: discovered files whose path contains it.
//   HARDER_TEST_TIMEOUT_MS overrides the per-file time limit.
//
// A file counts as failed when a test fails, and also when it crashes, times out, runs no test, uses
// `.only`, or prints counts that do not add up (test/uvu-summary.ts judges it). Each file is preloaded with
// test/lib/skip.ts so uvu's skips and `.only`s are named in its output.
//
// Integration files run sequentially in INTEGRATION_ORDER: each builds on real services (Docker images,
// nodes) that the earlier ones exercise first, so a failure points at the lowest broken layer. Files not
// listed run after those, alphabetically. Unit files run alphabetically.

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { judgeFile, type FileOutcome } from './uvu-summary.ts';

/** Integration files by base name (without .test.ts), in the order they run. */
export const INTEGRATION_ORDER = ['nodes', 'several-clusters', 'spec-cli', 'images', 'binaries', 'cross-arch', 'pki-etcd', 'cluster-e2e', 'ssh-machines', 'ssh-arm64', 'node-removal', 'cluster-ha'];

/** Per-file time limits; a file that exceeds its limit is killed and counts as failed. */
const override = Number(process.env.HARDER_TEST_TIMEOUT_MS) || undefined;
const TIMEOUT_MS = { unit: override ?? 5 * 60_000, integration: override ?? 90 * 60_000 };

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const skipNames = pathToFileURL(join(root, 'test', 'lib', 'skip.ts')).href;

function findTests(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function integrationRank(file: string): number {
  const base = file.split('/').pop()!.replace(/\.test\.ts$/, '');
  const i = INTEGRATION_ORDER.indexOf(base);
  return i === -1 ? INTEGRATION_ORDER.length : i;
}

type FileResult = FileOutcome & { file: string };

function runFile(file: string, timeoutMs: number): Promise<FileResult> {
  const rel = relative(root, file);
  process.stdout.write(`\n━━ ${rel}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', skipNames, file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ file: rel, ...judgeFile({ output, code, signal, ...(timedOut ? { timedOutMs: timeoutMs } : {}) }) });
    });
  });
}

/** Existing files named on the command line, run as given even outside test/unit and test/integration. */
function explicitFiles(args: string[]): string[] {
  return args.map((a) => resolve(a)).filter((path) => {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unit = findTests(join(root, 'test', 'unit'));
  const integration = findTests(join(root, 'test', 'integration')).sort((a, b) => integrationRank(a) - integrationRank(b) || a.localeCompare(b));
  const explicit = explicitFiles(args);
  const kinds = new Set(args.filter((a) => a === 'unit' || a === 'integration'));
  const filters = args.filter((a) => a !== 'unit' && a !== 'integration' && !explicit.includes(resolve(a)));
  const pick = (files: string[], kind: 'unit' | 'integration'): string[] => {
    if (explicit.length && !kinds.size && !filters.length) return [];
    if (kinds.size && !kinds.has(kind) && !filters.length) return [];
    if (!filters.length) return files;
    return files.filter((f) => (kinds.size === 0 || kinds.has(kind)) && filters.some((q) => relative(root, f).includes(q.replace(/^\.\//, '')) || f === q));
  };
  const integrationDir = join(root, 'test', 'integration') + '/';
  const plan: [string, number][] = [
    ...explicit.map((f): [string, number] => [f, f.startsWith(integrationDir) ? TIMEOUT_MS.integration : TIMEOUT_MS.unit]),
    ...pick(unit, 'unit').map((f): [string, number] => [f, TIMEOUT_MS.unit]),
    ...pick(integration, 'integration').map((f): [string, number] => [f, TIMEOUT_MS.integration]),
  ];
  if (!plan.length) {
    process.stdout.write(`no test files match ${args.join(' ')}\n0 passed, 1 failed\n`);
    return 1;
  }
  const results: FileResult[] = [];
  for (const [file, timeout] of plan) {
    if (results.some((r) => r.file === relative(root, file))) continue;
    results.push(await runFile(file, timeout));
  }
  const sum = (key: 'passed' | 'failed' | 'skipped'): number => results.reduce((n, r) => n + r[key], 0);
  const total = { passed: sum('passed'), failed: sum('failed'), skipped: sum('skipped') };
  // A file with a problem always adds to `failed`; checked again here so no path can end in a green line.
  const bad = results.filter((r) => r.failed > 0 || r.problems.length || r.passed < 0 || r.skipped < 0);
  if (bad.length && total.failed <= 0) total.failed = bad.length;
  process.stdout.write('\n');
  const skips = results.flatMap((r) => r.skips.map((s) => ({ file: r.file, ...s })));
  if (skips.length) process.stdout.write('skipped:\n');
  for (const s of skips) process.stdout.write(`  ↷ ${s.file}: ${s.name} (${s.reason})\n`);
  for (const r of bad) {
    const tests = r.failed - r.problems.length;
    const what = [...(tests ? [`${tests} failed`] : []), ...r.problems].join('; ');
    process.stdout.write(`✗ ${r.file}: ${what}\n`);
  }
  process.stdout.write(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}\n`);
  return total.failed || bad.length ? 1 : 0;
}

process.exitCode = await main();
