// Runs the tutorial's "look at it yourself" commands against a live cluster: finds every marked shell
// block in docs/*.md (marker syntax: docs/.vitepress/check-marker.ts), rewrites the default cluster's
// names and paths to the cluster under test, runs each block on the host or inside its node, and checks
// the output against what the text promises. Used by test/integration/cluster-e2e.test.ts.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { findMarkedCommands, type MarkedCommand } from '../../docs/.vitepress/check-marker.ts';
import { chapters, type Chapter } from '../../docs/.vitepress/chapters.ts';

/** A marked command and the chapter (file name without .md) it appears in. */
export type DocCommand = MarkedCommand & { chapter: string };

/**
 * Every marked command of the Markdown files directly in `docsDir`, in file-name order. Throws
 * MarkerError (naming file and line) on a marker that does not parse or is not followed by a sh block.
 */
export function extractDocCommands(docsDir: string): DocCommand[] {
  const files = readdirSync(docsDir).filter((f) => f.endsWith('.md')).sort();
  return files.flatMap((file) =>
    findMarkedCommands(readFileSync(join(docsDir, file), 'utf8'), file).map((c) => ({ ...c, chapter: file.replace(/\.md$/, '') })),
  );
}

/**
 * Keeps the commands one test cluster runs: a chapter's `cluster` (docs/.vitepress/chapters.ts) names the
 * 3-control-plane test's ('ha') or the Ingress and metrics add-ons' ('addons-ingress') or MetalLB's ('metallb'); a chapter without one
 * is the end-to-end test's ('e2e').
 */
export function onTestCluster(cluster: 'e2e' | NonNullable<Chapter['cluster']>): (command: DocCommand) => boolean {
  return (command) => (chapters.find((c) => c.slug === command.chapter)?.cluster ?? 'e2e') === cluster;
}

export type RunDocCommandsOptions = {
  /** Name of the cluster under test; containers are `<clusterName>-<node>`. */
  clusterName: string;
  /** The cluster the docs text is written for (default `harder`). */
  docsClusterName?: string;
  /** Admin kubeconfig of the cluster under test; replaces `output/kubeconfig/admin.kubeconfig` and sets KUBECONFIG. */
  kubeconfig?: string;
  /** State directory of the cluster under test; replaces `output/` at the start of paths. */
  outDir?: string;
  /** Working directory of host commands (the project root); default process.cwd(). */
  cwd?: string;
  /** Directories put first on PATH for host commands (where kubectl is, for instance). */
  pathPrepend?: string[];
  /** Node names whose container names are rewritten; default controller-N and worker-N (the endpoint's `api` always). */
  nodes?: string[];
  /**
   * Extra literal rewrites, applied last to the command text and to the expect/reject patterns (where a
   * `.` may appear escaped as `\.`): e.g. [['10.240.0.', '10.241.0.']] for a cluster on another node subnet.
   */
  replacements?: [string, string][];
  /** The commands to run; default extractDocCommands(docsDir). */
  commands?: DocCommand[];
  /** Where the chapters are when `commands` is not given; default <cwd>/docs. */
  docsDir?: string;
  /** Keep only some commands (by chapter, node…). */
  filter?: (command: DocCommand) => boolean;
  /** One line per command as it finishes. */
  log?: (line: string) => void;
};

export type DocCommandOutcome = {
  chapter: string;
  /** `file:line` of the marker, to find it in the docs. */
  where: string;
  node: string | null;
  /** The text actually run, after rewriting. */
  ran: string;
  ok: boolean;
  exitCode: number | null;
  /** Combined stdout and stderr of the last attempt (the tail, if long). */
  output: string;
  /** Why it failed, in one line; undefined when ok. */
  problem?: string;
  attempts: number;
  ms: number;
};

export type DocCommandsReport = { ok: boolean; passed: number; failed: number; outcomes: DocCommandOutcome[] };

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Rewrites a command written for the docs' default cluster to the cluster under test. */
export function substituteCommand(script: string, options: RunDocCommandsOptions): string {
  const from = options.docsClusterName ?? 'harder';
  let text = script;
  if (options.kubeconfig) text = text.split('output/kubeconfig/admin.kubeconfig').join(options.kubeconfig);
  if (options.outDir) {
    const out = options.outDir.replace(/\/+$/, '');
    text = text.replace(/(^|[\s='"(])output\//g, (_m, before: string) => `${before}${out}/`);
  }
  // The nodes' containers and the API endpoint's (`<cluster>-api`).
  const nodePattern = `${options.nodes?.length ? options.nodes.map(escapeRegExp).join('|') : '(?:controller|worker)-\\d+'}|api`;
  text = text.replace(new RegExp(`\\b${escapeRegExp(from)}-(${nodePattern})\\b`, 'g'), (_m, node: string) => `${options.clusterName}-${node}`);
  for (const [a, b] of options.replacements ?? []) text = text.split(a).join(b);
  return text;
}

/** Applies `replacements` to a pattern's source, matching both plain and regex-escaped dots. */
export function rewritePattern(pattern: RegExp, replacements: [string, string][] = []): RegExp {
  let source = pattern.source;
  for (const [a, b] of replacements) {
    source = source.split(a.replace(/\./g, '\\.')).join(b.replace(/\./g, '\\.'));
    source = source.split(a).join(b);
  }
  return source === pattern.source ? pattern : new RegExp(source, pattern.flags);
}

type Attempt = { exitCode: number | null; output: string; timedOut: boolean };

/**
 * Runs one shell text, as a reader would paste it into bash (no `set -e`, no pipefail: a pipeline into
 * `head` must not fail the block). Inside a node it runs through `docker exec <container> bash -c`.
 */
function runOnce(argv: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutSeconds: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutSeconds * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ exitCode: null, output: `could not start ${argv[0]}: ${error.message}`, timedOut: false });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, output: Buffer.concat(chunks).toString('utf8'), timedOut });
    });
  });
}

/** What is wrong with an attempt's result, or undefined when it is what the docs promise. */
export function judge(command: Pick<MarkedCommand, 'expect' | 'reject' | 'exit'>, attempt: Attempt): string | undefined {
  if (attempt.timedOut) return 'timed out';
  const { exit } = command;
  if (exit === 0 && attempt.exitCode !== 0) return `exit code ${attempt.exitCode}, expected 0`;
  if (typeof exit === 'number' && exit !== 0 && attempt.exitCode !== exit) return `exit code ${attempt.exitCode}, expected ${exit}`;
  if (exit === 'nonzero' && attempt.exitCode === 0) return 'exit code 0, expected a failure';
  for (const re of command.expect) if (!re.test(attempt.output)) return `output does not match ${re}`;
  for (const re of command.reject) if (re.test(attempt.output)) return `output matches ${re}, which it must not`;
  return undefined;
}

function tail(text: string, max = 4000): string {
  return text.length <= max ? text : `…${text.slice(-max)}`;
}

/** Runs the marked commands one after the other and reports each. Never throws for a failing command. */
export async function runDocCommands(options: RunDocCommandsOptions): Promise<DocCommandsReport> {
  const cwd = options.cwd ?? process.cwd();
  let commands = options.commands ?? extractDocCommands(options.docsDir ?? join(cwd, 'docs'));
  if (options.filter) commands = commands.filter(options.filter);
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C' };
  if (options.pathPrepend?.length) env.PATH = [...options.pathPrepend, env.PATH ?? ''].join(delimiter);
  if (options.kubeconfig) env.KUBECONFIG = options.kubeconfig;
  const outcomes: DocCommandOutcome[] = [];
  for (const command of commands) {
    const ran = substituteCommand(command.script, options);
    const expected = {
      exit: command.exit,
      expect: command.expect.map((re) => rewritePattern(re, options.replacements)),
      reject: command.reject.map((re) => rewritePattern(re, options.replacements)),
    };
    const argv = command.node ? ['docker', 'exec', `${options.clusterName}-${command.node}`, 'bash', '-c', ran] : ['bash', '-c', ran];
    const started = Date.now();
    const deadline = started + command.retrySeconds * 1000;
    let attempts = 0;
    let attempt: Attempt;
    let problem: string | undefined;
    for (;;) {
      attempts++;
      attempt = await runOnce(argv, cwd, env, command.timeoutSeconds);
      problem = judge(expected, attempt);
      if (!problem || Date.now() + 2000 > deadline) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const outcome: DocCommandOutcome = {
      chapter: command.chapter,
      where: `docs/${command.file}:${command.line}`,
      node: command.node,
      ran,
      ok: !problem,
      exitCode: attempt.exitCode,
      output: tail(attempt.output),
      attempts,
      ms: Date.now() - started,
      ...(problem ? { problem } : {}),
    };
    outcomes.push(outcome);
    options.log?.(`${outcome.ok ? 'pass' : 'FAIL'} ${outcome.where} (${command.node ?? 'host'}, ${outcome.ms} ms)${problem ? `: ${problem}` : ''}`);
  }
  const passed = outcomes.filter((o) => o.ok).length;
  return { ok: passed === outcomes.length, passed, failed: outcomes.length - passed, outcomes };
}

/** A readable failure report: where, what ran, why, and the output. */
export function formatFailures(report: DocCommandsReport): string {
  return report.outcomes
    .filter((o) => !o.ok)
    .map((o) => `${o.where} on ${o.node ?? 'host'}: ${o.problem}\n$ ${o.ran}\n${o.output.trimEnd()}`)
    .join('\n\n');
}
