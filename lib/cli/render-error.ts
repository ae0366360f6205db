// Error rendering: one readable block per problem (headline, facts, hint), in a single exhaustive switch
// over every error kind — a new kind fails to compile until it has a message here. Stacks only with --verbose.

import { EngineError, InvalidGraphError, type EngineErrorKind } from '../engine/index.ts';
import type { Failure } from '../engine/index.ts';
import { CliError, ConfigError, type CliErrorKind } from './errors.ts';

export type ErrorKind = EngineErrorKind | CliErrorKind | 'internal';

function unreachable(kind: never): never {
  throw new Error(`no message for error kind ${String(kind)}`);
}

/**
 * The first line for an error of this kind. Engine messages already say what is wrong; the switch
 * decides how the target and the kind frame them, and forces every kind to be considered.
 */
export function headline(kind: ErrorKind, message: string, target: string | undefined): string {
  const on = target ? `${target}: ` : '';
  switch (kind) {
    case 'duplicate-target':
    case 'unknown-dependency':
    case 'cycle':
    case 'bad-target':
    case 'unknown-target':
    case 'lock-held':
    case 'output-unwritable':
    case 'needs-yes':
    case 'precious-changed':
    case 'bad-flag':
    case 'bad-option':
    case 'bad-command-args':
    case 'bad-argument':
      // These messages name their target (or concern none).
      return message;
    case 'missing-input':
    case 'bad-result':
    case 'missing-output':
      return `${on}${message}`;
    case 'build-failed':
      return `${on}build failed: ${message}`;
    case 'clean-failed':
      return `${on}${message}`;
    case 'internal':
      return `internal error: ${message}`;
    default:
      return unreachable(kind);
  }
}

function block(kind: ErrorKind, message: string, opts: { target?: string; hint?: string; details?: string[]; stack?: string }): string {
  const lines = [`✗ ${headline(kind, message, opts.target)}`];
  for (const detail of opts.details ?? []) lines.push(`    ${detail}`);
  if (opts.hint) lines.push(`  hint: ${opts.hint}`);
  if (opts.stack) lines.push(opts.stack.split('\n').map((l) => `    ${l}`).join('\n'));
  return lines.join('\n');
}

const stackOf = (error: unknown): string | undefined => (error instanceof Error ? error.stack : undefined);

/** Renders a failure from a build report. */
export function renderFailure(failure: Failure, verbose: boolean): string {
  const kind = (failure.kind ?? 'build-failed') as ErrorKind;
  const cause = failure.cause;
  // Messages of build failures already name the problem; the target goes in the headline.
  return block(kind, failure.message, { target: failure.target, hint: failure.hint, stack: verbose ? stackOf(cause) : undefined });
}

/** Renders anything thrown out of the engine or the CLI. */
export function renderError(error: unknown, verbose: boolean): string {
  if (error instanceof InvalidGraphError) return error.problems.map((p) => renderError(p, verbose)).join('\n');
  if (error instanceof EngineError) {
    return block(error.kind, error.message, { target: error.target, hint: error.hint, details: error.details, stack: verbose ? stackOf(error) : undefined });
  }
  if (error instanceof ConfigError && error.problems.length) {
    // One line per problem, the hint (and stack) once, under the last.
    const last = error.problems.length - 1;
    return error.problems.map((p, i) => (i < last ? `✗ ${p}` : block(error.kind, p, { hint: error.hint, stack: verbose ? stackOf(error) : undefined }))).join('\n');
  }
  if (error instanceof CliError) return block(error.kind, error.message, { hint: error.hint, stack: verbose ? stackOf(error) : undefined });
  const message = error instanceof Error ? error.message : String(error);
  return block('internal', message, {
    hint: verbose ? 'this is a bug in the engine or the CLI; please report it with the stack below' : 'run again with --verbose for the stack trace',
    stack: verbose ? stackOf(error) : undefined,
  });
}
