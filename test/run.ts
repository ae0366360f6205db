// The test runner: runs each uvu test file in its own process (`node --import tsx <file>`), unit files
// first, then integration files in a fixed order, streams their output, and ends with `N passed, N failed`.
//
// Usage: tsx test/run.ts [unit | integration | <path or substring>…]
//   no argument: every unit file, then every integration file.
//   `unit` / `integration`: only that kind. Anything else: files whose path contains it.
//
// Integration files run sequentially in INTEGRATION_ORDER: each builds on real services (Docker images,
// nodes) that the earlier ones exercise first, so a failure points at the lowest broken layer. Files not
// listed run after those, alphabetically. Unit files run alphabetically.

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSummary } from './uvu-summary.ts';

/** Integration files by base name (without .test.ts), in the order they run. */
export const INTEGRATION_ORDER = ['nodes', 'images', 'binaries', 'pki-etcd', 'cluster-e2e', 'cluster-ha'];

/** Per-file time limits; a file that exceeds its limit is killed and counts as failed. */
const TIMEOUT_MS = { unit: 5 * 60_000, integration: 90 * 60_000 };

const root = dirname(dirname(fileURLToPath(import.meta.url)));

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

type FileResult = { file: string; passed: number; failed: number; skipped: number; note?: string };

function runFile(file: string, timeoutMs: number): Promise<FileResult> {
  const rel = relative(root, file);
  process.stdout.write(`\n━━ ${rel}\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const summary = parseSummary(output);
      if (timedOut) return resolve({ file: rel, passed: summary?.passed ?? 0, failed: 1, skipped: 0, note: `timed out after ${timeoutMs / 1000}s` });
      if (!summary) return resolve({ file: rel, passed: 0, failed: 1, skipped: 0, note: `crashed before reporting (exit ${code ?? signal})` });
      const failed = summary.total - summary.passed - summary.skipped;
      if (summary.total === 0) return resolve({ file: rel, passed: 0, failed: 1, skipped: 0, note: 'ran no tests' });
      if (failed === 0 && code !== 0) return resolve({ file: rel, passed: summary.passed, failed: 1, skipped: summary.skipped, note: `exited ${code ?? signal} after its tests passed` });
      resolve({ file: rel, passed: summary.passed, failed, skipped: summary.skipped });
    });
  });
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unit = findTests(join(root, 'test', 'unit'));
  const integration = findTests(join(root, 'test', 'integration')).sort((a, b) => integrationRank(a) - integrationRank(b) || a.localeCompare(b));
  const kinds = new Set(args.filter((a) => a === 'unit' || a === 'integration'));
  const filters = args.filter((a) => a !== 'unit' && a !== 'integration');
  const pick = (files: string[], kind: 'unit' | 'integration'): string[] => {
    if (kinds.size && !kinds.has(kind) && !filters.length) return [];
    if (!filters.length) return files;
    return files.filter((f) => (kinds.size === 0 || kinds.has(kind)) && filters.some((q) => relative(root, f).includes(q.replace(/^\.\//, '')) || f === q));
  };
  const plan: [string, number][] = [
    ...pick(unit, 'unit').map((f): [string, number] => [f, TIMEOUT_MS.unit]),
    ...pick(integration, 'integration').map((f): [string, number] => [f, TIMEOUT_MS.integration]),
  ];
  if (!plan.length) {
    process.stdout.write(`no test files match ${args.join(' ')}\n0 passed, 1 failed\n`);
    return 1;
  }
  const results: FileResult[] = [];
  for (const [file, timeout] of plan) results.push(await runFile(file, timeout));
  const total = results.reduce((acc, r) => ({ passed: acc.passed + r.passed, failed: acc.failed + r.failed, skipped: acc.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
  process.stdout.write('\n');
  for (const r of results) {
    if (r.failed) process.stdout.write(`✗ ${r.file}: ${r.failed} failed${r.note ? ` (${r.note})` : ''}\n`);
  }
  process.stdout.write(`${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}\n`);
  return total.failed ? 1 : 0;
}

process.exitCode = await main();
