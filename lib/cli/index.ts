// The CLI: parses argv, builds the project's config and targets, and runs a build, a clean, a dry run
// or a graph export. The only place that prints errors and chooses the exit code. Reusable by fixture
// projects in tests: runCli({ argv, root, project }).

import { join, relative } from 'node:path';
// Only through the engine's index, which is cheap to load: the executor loads on runBuild's first call.
import { cleanTargets, EngineError, graphDot, graphStates, InvalidGraphError, recordedTargets, runBuild, summarizeNames, type AnyTarget } from '../engine/index.ts';
import { parseArgs } from './args.ts';
import { CliError } from '../errors.ts';
import type { CliProject, ProjectCommand } from './project.ts';
import { createReporter, type Out } from './reporter.ts';
import { reportBoth, RUN_LOG, RunLog, teeOut } from './run-log.ts';

// Modules only some invocations need are imported when needed: start-up time is part of every no-op.
const helpText = async (...args: Parameters<typeof import('./help.ts').helpText>) => (await import('./help.ts')).helpText(...args);
const renderError = async (error: unknown, verbose: boolean) => (await import('./render-error.ts')).renderError(error, verbose);
const renderFailure = async (...args: Parameters<typeof import('./render-error.ts').renderFailure>) => (await import('./render-error.ts')).renderFailure(...args);

export { CliError, ConfigError, OptionError, type CliErrorKind } from '../errors.ts';
export type { CliProject, CommandContext, CommandIo, CommandTargets, ConfigureContext, ProjectCommand, RecordContext } from './project.ts';
export type { ProjectFlag } from './args.ts';

export type CliOptions<C> = {
  argv: readonly string[];
  /** Project root: inputs/outputs are relative to it; state goes to <root>/output unless outDir is set. */
  root: string;
  project: CliProject<C>;
  outDir?: string;
  /** Where relative paths given on the command line (a --config file) start; default process.cwd(). */
  cwd?: string;
  stdout?: Out;
  stderr?: Out;
  env?: Record<string, string | undefined>;
  /** Install SIGINT/SIGTERM handlers (default true): first signal aborts the run, a second exits at once. */
  handleSignals?: boolean;
};

/** Exit codes: 0 ok, 1 a build/clean failed, 2 bad usage or invalid graph, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** A path as the user typed it: relative to the current directory when inside it. */
function shownPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CliError || error instanceof InvalidGraphError) return EXIT.usage;
  return EXIT.failed;
}

/** Runs the CLI; resolves to the exit code (the caller sets process.exitCode). */
export async function runCli<C>(opts: CliOptions<C>): Promise<number> {
  const terminal = opts.stdout ?? process.stdout;
  const env = opts.env ?? process.env;
  const { project } = opts;
  // Everything printed also goes to <outDir>/last-run.log, which opens only when a real build starts.
  const runLog = new RunLog(join(opts.outDir ?? join(opts.root, 'output'), RUN_LOG), `# ${project.program} ${opts.argv.join(' ')}\n# started ${new Date().toISOString()}, pid ${process.pid}\n`);
  const stdout = teeOut(terminal, runLog);
  const stderr = teeOut(opts.stderr ?? process.stderr, runLog);
  let verbose = opts.argv.includes('--verbose') || opts.argv.includes('-v');
  const controller = new AbortController();
  let signals = 0;
  // A passthrough command's program (kubectl) gets the terminal's Ctrl-C itself and exits on it.
  let passingThrough = false;
  const onSignal = (): void => {
    if (passingThrough) return;
    signals++;
    if (signals === 1) {
      stderr.write('\ninterrupted: stopping running targets (press Ctrl-C again to exit at once)\n');
      controller.abort();
    } else {
      process.exit(EXIT.interrupted);
    }
  };
  // `tasks.ts --help | head`: a closed pipe ends the output, it is not an error worth a stack trace.
  const onPipeError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
  };
  if (terminal === process.stdout) process.stdout.on('error', onPipeError);
  const handleSignals = opts.handleSignals ?? true;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    const passthrough = new Set(Object.entries(project.commands ?? {}).filter(([, c]) => c.passthrough && c.run).map(([name]) => name));
    // Commands' own flags are parsed with the project's, then taken out of what configure sees.
    const commandFlags = Object.entries(project.commands ?? {}).flatMap(([command, c]) => (c.flags ?? []).map((flag) => ({ command, flag })));
    const args = parseArgs(opts.argv, [...(project.flags ?? []), ...commandFlags.map((f) => f.flag)], passthrough);
    const ownFlags: Record<string, string> = {};
    for (const { command, flag } of commandFlags) {
      const value = args.project[flag.name];
      if (value === undefined) continue;
      delete args.project[flag.name];
      ownFlags[flag.name] = value;
      if (args.positionals[0] !== command && !args.flags.help) {
        throw new CliError('bad-flag', `--${flag.name} is a flag of ${command} only${args.positionals[0] ? `, not of ${args.positionals[0]}` : ''}`, `${project.program} ${command} --${flag.name}${flag.value ? ` ${flag.value}` : ''}`);
      }
    }
    verbose = args.flags.verbose;
    const cwd = opts.cwd ?? process.cwd();
    const baseOutDir = opts.outDir ?? join(opts.root, 'output');
    const outDir = project.stateDir ? await project.stateDir(args.project, baseOutDir, { root: opts.root, cwd }) : baseOutDir;
    runLog.moveTo(join(outDir, RUN_LOG));
    const context = { cwd, warn: (line: string) => void stderr.write(`warning: ${line}\n`), outDir, printOnly: Boolean(args.flags.graph || args.flags.help) };
    const commands: Record<string, ProjectCommand<C>> = project.commands ?? {};
    const help = async (registry: readonly AnyTarget[]): Promise<void> =>
      void stdout.write(await helpText({ program: project.program, targets: registry, flags: project.flags ?? [], commands: commands as Record<string, ProjectCommand<never>> }));
    let config: C;
    try {
      config = project.configure ? await project.configure(args.project, opts.root, context) : (undefined as C);
    } catch (error) {
      // --help works whatever the options: it lists the targets of the default config, then says what
      // is wrong with the options given (exit 2, as for any bad option).
      if (!args.flags.help || !(error instanceof CliError) || !project.configure) throw error;
      let defaults: AnyTarget[];
      try {
        defaults = project.targets(await project.configure({}, opts.root, context));
      } catch {
        throw error;
      }
      await help(defaults);
      stderr.write(`${await renderError(error, verbose)}\n(the targets above are those of the default config: these options are invalid)\n`);
      return EXIT.usage;
    }
    const registry = project.targets(config, { recorded: recordedTargets(outDir) });
    if (args.flags.help) {
      await help(registry);
      return EXIT.ok;
    }
    const names = new Set(registry.map((t) => t.name));
    let targets: readonly AnyTarget[] = registry;
    let requested = args.positionals;
    /** What a command asked to rebuild whatever its key, with why (CommandTargets.rebuild). */
    let rebuild: Record<string, string> | undefined;
    const first = requested[0];
    const record = async (): Promise<void> =>
      project.record?.(config, { outDir, dryRun: args.flags.dryRun, explain: args.flags.explain || args.flags.dryRun, say: (line) => void stdout.write(`${line}\n`) });
    const runner = first !== undefined && Object.hasOwn(commands, first) && !names.has(first) ? commands[first]!.run : undefined;
    if (runner) {
      // A command that builds nothing (`spec`): no target, no lock, no Docker.
      await record();
      passingThrough = passthrough.has(first!);
      return await runner(requested.slice(1), config, { out: (text) => void stdout.write(text), dryRun: args.flags.dryRun, root: opts.root, outDir, registry, signal: controller.signal });
    }
    if (first !== undefined && Object.hasOwn(commands, first) && !names.has(first)) {
      const answer = await commands[first]!.targets(requested.slice(1), config, registry, { flags: ownFlags, root: opts.root, outDir });
      const generated = Array.isArray(answer) ? answer : answer.targets;
      if (!Array.isArray(answer)) rebuild = answer.rebuild;
      targets = [...registry, ...generated.filter((t) => !registry.includes(t))];
      requested = generated.map((t) => t.name);
      if (!requested.length) throw new CliError('bad-command-args', `${first} has nothing to do with these arguments`, `usage: ${project.program} ${first} ${commands[first]!.usage}`);
    }
    for (const [i, name] of requested.entries()) {
      // An empty name (often an unset shell variable) would otherwise be `unknown target ` with nothing after it.
      const hint = 'remove it (an unset shell variable?), or run with --help to list the targets';
      if (!name.trim()) throw new CliError('bad-argument', `empty target name (argument ${i + 1} is ${JSON.stringify(name)})`, hint);
      if (name.startsWith('clean:') && !name.slice('clean:'.length).trim() && !names.has(name)) throw new CliError('bad-argument', `empty target name after clean: (argument ${i + 1} is ${JSON.stringify(name)})`, 'clean:<target>, e.g. clean:nodes');
    }
    if (!requested.length && !args.flags.graph) {
      await help(registry);
      return EXIT.ok;
    }
    if (args.flags.graph) {
      const wanted = requested.length ? requested : targets.map((t) => t.name);
      const states = await graphStates({ targets, requested: wanted, root: opts.root, outDir });
      stdout.write(graphDot(targets, wanted, states, 'targets'));
      return EXIT.ok;
    }
    const cleans = requested.filter((r) => r.startsWith('clean:') && !names.has(r)).map((r) => r.slice('clean:'.length));
    const builds = requested.filter((r) => !(r.startsWith('clean:') && !names.has(r)));
    await record();
    let code: number = EXIT.ok;
    if (cleans.length) {
      const dryRun = args.flags.dryRun;
      const report = await cleanTargets({ targets, requested: cleans, root: opts.root, outDir, yes: args.flags.yes, dryRun, signal: controller.signal, log: (t, m) => stdout.write(`  ${t}: ${m}\n`) });
      const list = (names: string[]): string => (verbose ? names.join(', ') : summarizeNames(names));
      for (const item of report.removed) stdout.write(`${dryRun ? 'would remove' : 'removed'} ${item}\n`);
      for (const item of report.removedTemps) stdout.write(`${dryRun ? 'would remove' : 'removed'} ${item} (a killed run's temp file)\n`);
      // A real clean logs what each clean() removed; a dry run can only say whose would run.
      if (dryRun && report.external.length) stdout.write(`would run the clean() of ${list(report.external)} (what they made outside their files)\n`);
      if (!report.removed.length && !report.removedTemps.length && !(dryRun && report.external.length)) stdout.write(`clean: nothing to remove for ${cleans.join(', ')}\n`);
      if (report.dependents.length) stdout.write(`${dryRun ? 'would have' : 'will have'} to be rebuilt (if the results change): ${list(report.dependents)}\n`);
      if (report.needsYes.length) stdout.write(`a real clean needs --yes: ${report.needsYes.join(', ')} ${report.needsYes.length > 1 ? 'are' : 'is'} precious\n`);
      if (dryRun) stdout.write('dry run: nothing removed\n');
      for (const failure of report.failures) stderr.write(`${await renderFailure(failure, verbose)}\n`);
      if (!report.ok) code = EXIT.failed;
    }
    if (builds.length && code === EXIT.ok) {
      const live = !!terminal.isTTY && !env.CI && !args.flags.plain && !args.flags.dryRun;
      const explain = args.flags.explain || args.flags.dryRun;
      // The terminal's view (maybe live) and plain lines for the run's log file.
      const reporter = reportBoth(createReporter({ out: terminal, live, explain, verbose }), createReporter({ out: runLog, live: false, explain, verbose }), runLog);
      try {
        const report = await runBuild({
          targets,
          requested: builds,
          root: opts.root,
          outDir,
          jobs: args.flags.jobs,
          force: args.flags.force,
          ...(rebuild ? { rebuild } : {}),
          dryRun: args.flags.dryRun,
          keepGoing: args.flags.keepGoing,
          yes: args.flags.yes,
          signal: controller.signal,
          reporter,
        });
        // A killed run's temp file may hold a private key: say that it was removed.
        for (const what of report.destructive ?? []) if (args.flags.dryRun) stdout.write(`would remove ${what}\n`);
        if (report.removedTemps) stdout.write(`removed ${report.removedTemps.length} temp file(s) left by killed runs: ${report.removedTemps.join(', ')}\n`);
        for (const failure of report.failures) stderr.write(`${await renderFailure(failure, verbose)}\n`);
        // Where to look further when a build ran and failed (not a refusal such as a precious change):
        // this run's log, and what the project suggests for these failures.
        const broken = report.failures.filter((f) => f.kind === 'build-failed');
        if (broken.length && !args.flags.dryRun) {
          if (runLog.opened) stderr.write(`this run's output is in ${shownPath(runLog.path, opts.cwd ?? process.cwd())}\n`);
          const more = project.failureHint?.(broken);
          if (more) stderr.write(`${more}\n`);
        }
        if (!report.ok) code = EXIT.failed;
        else if (!args.flags.dryRun && project.notes && !controller.signal.aborted) for (const line of await project.notes(config, report, project.program)) stdout.write(`${line}\n`);
      } finally {
        reporter.dispose();
      }
    }
    if (controller.signal.aborted) {
      stderr.write('interrupted: finished targets are recorded; run again to continue\n');
      return EXIT.interrupted;
    }
    return code;
  } catch (error) {
    stderr.write(`${await renderError(error, verbose)}\n`);
    if (controller.signal.aborted) return EXIT.interrupted;
    return exitCodeFor(error);
  } finally {
    runLog.close();
    if (terminal === process.stdout) process.stdout.off('error', onPipeError);
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

export { EngineError };
