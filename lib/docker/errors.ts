// Error types of the generic Docker helpers: one clear message plus a hint saying what to do.

import { HintedError } from '../hinted-error.ts';

/** Base class: every Docker helper error carries a one-line hint for the user. */
export class DockerError extends HintedError {}

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
