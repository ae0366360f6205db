// Error types of the generic Docker helpers: one clear message plus a hint saying what to do (kind docker-failed, lib/errors.ts).

import { HarderError } from '../errors.ts';

/** Base class: the Docker engine is unreachable, or refused or failed a request; the hint says what to do. */
export class DockerError extends HarderError<'docker-failed'> {
  constructor(message: string, hint?: string, options: { cause?: unknown } = {}) {
    super('docker-failed', message, {}, { hint, cause: options.cause });
  }
}

/** No Docker engine answers at the configured address (DOCKER_HOST or the default socket). */
export class DockerUnavailableError extends DockerError {}

/** A file asked of a container does not exist there. */
export class NodeFileMissingError extends DockerError {}

/** The status code of an error thrown by docker-modem (HTTP status from the engine), if any. */
export function statusCodeOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The engine's own message from a docker-modem error ("(HTTP code 404) no such container - ..."). */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  return error instanceof Error ? error.message : String(error);
}
