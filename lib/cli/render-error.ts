// Error rendering: one readable block per problem (headline, facts, hint), decided by a single exhaustive
// switch over every error kind (lib/errors.ts) — a new kind fails to compile until it has a case here.
// A failed command shows a "command output" block: the command line, then its last lines. Stacks only with --verbose.

import { EngineError } from '../engine/index.ts';
import type { Failure } from '../engine/index.ts';
import { ENGINE_ERROR_KINDS, HarderError, commandLine, commandSummary, messageOf, type AnyHarderError, type CommandFacts, type EngineErrorKind, type EngineFacts } from '../errors.ts';

export type { ErrorKind } from '../errors.ts';

/** One block: `✗ headline`, body lines as given (they carry their own indentation), then `  hint: …`. */
export type Shown = { headline: string; body: string[]; hint?: string };

function unreachable(error: never): never {
  throw new Error(`no rendering for error kind ${(error as { kind: string }).kind}`);
}

const indented = (lines: readonly string[], by = '    '): string[] => lines.map((l) => `${by}${l}`);
const on = (facts: EngineFacts): string => (facts.target ? `${facts.target}: ` : '');

/** The block a failed command adds, as kind prints it: a heading, the command line, its last lines indented. */
export function commandOutput(facts: CommandFacts): string[] {
  const lines = ['  command output:', `    $ ${commandLine(facts)}`];
  lines.push(...indented(facts.tail.length ? facts.tail : ['(no output)'], '      '));
  return lines;
}

/** What a build's or a clean's cause adds: its own headline and body when it is an expected error. */
function causeOf(error: unknown, verbose: boolean): Shown | undefined {
  if (!(error instanceof HarderError)) return undefined;
  const [first] = describe(error as AnyHarderError, verbose);
  return first;
}

/**
 * How an error reads, by kind: the one place that decides it. Most kinds are one block; an invalid graph
 * is one per problem, a bad config one line per problem with the hint under the last.
 */
export function describe(e: AnyHarderError, verbose: boolean): Shown[] {
  switch (e.kind) {
    case 'duplicate-target':
    case 'unknown-dependency':
    case 'cycle':
    case 'bad-target':
    case 'unknown-target':
    case 'lock-held':
    case 'output-unwritable':
    case 'needs-yes':
    case 'precious-changed':
      // These messages name their target (or concern none).
      return [{ headline: e.message, body: indented(e.facts.details), hint: e.hint }];
    case 'missing-input':
    case 'bad-result':
    case 'missing-output':
      return [{ headline: `${on(e.facts)}${e.message}`, body: indented(e.facts.details), hint: e.hint }];
    case 'build-failed': {
      const cause = causeOf(e.cause, verbose);
      return [{ headline: `${on(e.facts)}build failed: ${cause?.headline ?? e.message}`, body: [...indented(e.facts.details), ...(cause?.body ?? [])], hint: e.hint ?? cause?.hint }];
    }
    case 'clean-failed': {
      // The engine's message is `clean failed: <cause's message>` or says which output it could not remove.
      const cause = causeOf(e.cause, verbose);
      return [{ headline: `${on(e.facts)}${cause ? `clean failed: ${cause.headline}` : e.message}`, body: [...indented(e.facts.details), ...(cause?.body ?? [])], hint: e.hint ?? cause?.hint }];
    }
    case 'invalid-graph':
      return e.facts.problems.flatMap((p) => describe(p as AnyHarderError, verbose));
    case 'bad-option': {
      const problems = e.facts.problems?.length ? e.facts.problems : [e.message];
      return problems.map((p, i) => ({ headline: p, body: [], hint: i === problems.length - 1 ? e.hint : undefined }));
    }
    case 'bad-flag':
    case 'bad-command-args':
    case 'bad-argument':
      return [{ headline: e.message, body: [], hint: e.hint }];
    case 'command-failed':
      // The message quotes a few lines for wherever it is read alone; here the block shows them.
      return [{ headline: commandSummary(e.facts), body: commandOutput(e.facts), hint: e.hint }];
    case 'tool-missing':
    case 'bad-input':
    case 'download-failed':
    case 'docker-failed':
    case 'machine-failed':
    case 'step-failed':
      // The message names the program, file and field, URL, container or check at fault.
      return [{ headline: e.message, body: [], hint: e.hint }];
    case 'internal':
      return [{
        headline: `internal error: ${e.message}`,
        body: [],
        hint: verbose ? 'this is a bug in the engine or the CLI; please report it with the stack below' : 'run again with --verbose for the stack trace',
      }];
    default:
      return unreachable(e);
  }
}

function block(shown: Shown): string {
  const lines = [`✗ ${shown.headline}`, ...shown.body];
  if (shown.hint) lines.push(`  hint: ${shown.hint}`);
  return lines.join('\n');
}

function render(e: HarderError, verbose: boolean, stackOf: unknown): string {
  const text = describe(e as AnyHarderError, verbose).map(block).join('\n');
  const stack = verbose && stackOf instanceof Error ? stackOf.stack : undefined;
  return stack ? `${text}\n${indented(stack.split('\n')).join('\n')}` : text;
}

/** Renders a failure from a build or clean report: the engine's kind frames it, the cause says what failed. */
export function renderFailure(failure: Failure, verbose: boolean): string {
  const kind: EngineErrorKind = (ENGINE_ERROR_KINDS as readonly string[]).includes(failure.kind ?? '') ? (failure.kind as EngineErrorKind) : 'build-failed';
  const error = new EngineError(kind, failure.message, { target: failure.target, hint: failure.hint, cause: failure.cause });
  return render(error, verbose, failure.cause);
}

/** Renders anything thrown out of the engine or the CLI; what is not an expected error is an internal one. */
export function renderError(error: unknown, verbose: boolean): string {
  const expected = error instanceof HarderError ? error : new HarderError('internal', messageOf(error), {}, { cause: error });
  return render(expected, verbose, error);
}
