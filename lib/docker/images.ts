// Image helpers over the Docker API: inspect, pull, import a root filesystem, and build from a
// Dockerfile with an in-memory tar-stream context, streaming progress lines to the caller.

import type Dockerode from 'dockerode';
import { connectDocker } from './connect.ts';
import { engineEndpoint, engineInspect } from './engine-api.ts';
import { DockerError, DockerUnavailableError, engineMessage, statusCodeOf } from './errors.ts';

/** What the build and pull helpers report while they work: one human line at a time. */
export type ProgressSink = (line: string) => void;

export type ImageInfo = { id: string; labels: Record<string, string>; tags: string[] };

/** The image `ref` (tag or ID), or undefined when the engine does not have it. */
export async function inspectImage(docker: Dockerode | undefined, ref: string): Promise<ImageInfo | undefined> {
  try {
    // Without a client (probes), the light client answers when it can: no dockerode load.
    const info =
      !docker && engineEndpoint()
        ? await engineInspect<Dockerode.ImageInspectInfo>('images', ref)
        : await (docker ?? (await connectDocker())).getImage(ref).inspect();
    if (!info) return undefined;
    return { id: info.Id, labels: info.Config?.Labels ?? {}, tags: info.RepoTags ?? [] };
  } catch (error) {
    if (statusCodeOf(error) === 404) return undefined;
    if (error instanceof DockerUnavailableError) throw error;
    throw new DockerError(`inspecting image ${ref} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
}

type ProgressEvent = {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
};

/**
 * Reads a JSON-lines progress stream (build, pull, import) to its end. Rejects with the engine's error
 * message when an event carries one (the HTTP status is 200 even when a build step fails).
 */
function followProgress(stream: NodeJS.ReadableStream, onEvent: (event: ProgressEvent) => void, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let failure: string | undefined;
    const onAbort = () => (stream as NodeJS.ReadableStream & { destroy(e?: Error): void }).destroy(new DockerError('cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const handle = (line: string) => {
      if (line.trim() === '') return;
      let event: ProgressEvent;
      try {
        event = JSON.parse(line) as ProgressEvent;
      } catch {
        event = { stream: line };
      }
      if (event.error || event.errorDetail?.message) failure ??= event.errorDetail?.message ?? event.error;
      onEvent(event);
    };
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        handle(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
      }
    });
    const done = (error?: Error) => {
      signal?.removeEventListener('abort', onAbort);
      handle(buffered);
      buffered = '';
      if (error) reject(error);
      else if (failure) reject(new DockerError(failure.trim()));
      else resolve();
    };
    stream.on('end', () => done());
    stream.on('error', (error: Error) => done(error));
  });
}

/**
 * Pulls `ref`; resolves to the image ID, or rejects (quickly when no registry is reachable, after
 * `timeoutMs` when one hangs).
 */
export async function pullImage(docker: Dockerode, ref: string, options: { onProgress?: ProgressSink; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
  const signal = AbortSignal.any([AbortSignal.timeout(options.timeoutMs ?? 120_000), ...(options.signal ? [options.signal] : [])]);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(ref, { abortSignal: signal });
  } catch (error) {
    throw new DockerError(`pulling ${ref} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
  let lastStatus = '';
  await followProgress(
    stream,
    (event) => {
      // Layer-by-layer byte counts are noise here; report each new status line once.
      const line = [event.id, event.status].filter(Boolean).join(': ');
      if (event.status && !event.progress && line !== lastStatus) {
        lastStatus = line;
        options.onProgress?.(line);
      }
    },
    signal,
  );
  const info = await inspectImage(docker, ref);
  if (!info) throw new DockerError(`pulling ${ref} reported success but the image is missing`);
  return info.id;
}

/**
 * Imports a root filesystem tar stream as image `repoTag` (what `docker import` does) and returns the
 * image ID. `changes` are Dockerfile instructions applied to the config (CMD, LABEL, ENV...).
 */
export async function importRootfs(
  docker: Dockerode,
  tarStream: NodeJS.ReadableStream,
  repoTag: string,
  options: { changes?: string[]; message?: string; signal?: AbortSignal } = {},
): Promise<string> {
  const [repo, tag = 'latest'] = splitRepoTag(repoTag);
  let id: string | undefined;
  let stream: NodeJS.ReadableStream;
  try {
    // changes is repeated in the query string, one instruction each, as the docker CLI sends it; an
    // empty one is refused by the engine ("file with no instructions"), so none is sent then.
    const changes = options.changes?.length ? { changes: options.changes } : {};
    stream = await docker.importImage(tarStream, { repo, tag, ...changes, message: options.message, abortSignal: options.signal } as object);
  } catch (error) {
    throw new DockerError(`importing ${repoTag} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
  await followProgress(stream, (event) => {
    if (event.status?.startsWith('sha256:')) id = event.status.trim();
  }, options.signal);
  const info = await inspectImage(docker, repoTag);
  if (!info) throw new DockerError(`import of ${repoTag} finished but the image is missing`);
  if (id && id !== info.id) throw new DockerError(`import of ${repoTag} produced ${id} but the tag points to ${info.id}`);
  return info.id;
}

function splitRepoTag(repoTag: string): [string, string | undefined] {
  const colon = repoTag.lastIndexOf(':');
  if (colon > repoTag.lastIndexOf('/')) return [repoTag.slice(0, colon), repoTag.slice(colon + 1)];
  return [repoTag, undefined];
}

/** A file of an in-memory build context. */
export type ContextFile = { path: string; content: Buffer | string; mode?: number };

export type BuildImageOptions = {
  /** The files of the build context; must include the Dockerfile (at `dockerfile`, default `Dockerfile`). */
  context: ContextFile[];
  dockerfile?: string;
  /** Tags to apply (repo:tag). */
  tags: string[];
  labels?: Record<string, string>;
  buildArgs?: Record<string, string>;
  onProgress?: ProgressSink;
  signal?: AbortSignal;
  /** Use the engine's layer cache (default true). */
  cache?: boolean;
};

/** Builds an image from an in-memory context (a real `docker build`); resolves to the image ID. */
export async function buildImage(docker: Dockerode, options: BuildImageOptions): Promise<string> {
  const dockerfile = options.dockerfile ?? 'Dockerfile';
  if (!options.context.some((file) => file.path === dockerfile)) {
    throw new DockerError(`the build context has no ${dockerfile}`);
  }
  const tarStream = await contextTar(options.context);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(tarStream, {
      t: options.tags,
      dockerfile,
      labels: options.labels,
      buildargs: options.buildArgs,
      nocache: options.cache === false,
      // Remove intermediate containers even when a step fails, so failed builds leave nothing behind.
      rm: true,
      forcerm: true,
      abortSignal: options.signal,
    } as object);
  } catch (error) {
    throw new DockerError(`docker build of ${options.tags[0] ?? 'an image'} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
  let id: string | undefined;
  const recent: string[] = [];
  try {
    await followProgress(
      stream,
      (event) => {
        if (event.aux?.ID) id = event.aux.ID;
        const text = event.stream ?? event.status;
        if (!text) return;
        for (const line of text.split('\n')) {
          // The engine colours RUN output with ANSI escapes (stderr in red); progress lines are plain text.
          const trimmed = line.replace(/\u001b\[[0-9;]*m/g, '').trimEnd();
          if (!trimmed) continue;
          recent.push(trimmed);
          if (recent.length > 15) recent.shift();
          options.onProgress?.(trimmed);
        }
        const built = /^Successfully built ([0-9a-f]+)/.exec(text);
        if (built && !id) id = built[1];
      },
      options.signal,
    );
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new DockerError(
      `docker build of ${options.tags[0] ?? 'an image'} failed: ${message}\n${recent.join('\n')}`,
      `fix ${dockerfile} (the failing step is shown above) and rerun`,
      { cause: error },
    );
  }
  const tagged = options.tags[0] ? await inspectImage(docker, options.tags[0]) : undefined;
  const result = tagged?.id ?? id;
  if (!result) throw new DockerError(`docker build of ${options.tags[0] ?? 'an image'} finished without an image ID`);
  return result.startsWith('sha256:') ? result : (await inspectImage(docker, result))?.id ?? result;
}

async function contextTar(files: ContextFile[]): Promise<NodeJS.ReadableStream> {
  const tar = await import('tar-stream');
  const pack = tar.pack();
  // Fixed mtimes keep the context byte-identical for identical files, so the layer cache hits.
  const mtime = new Date(0);
  for (const file of files) {
    const content = Buffer.from(file.content);
    pack.entry({ name: file.path, size: content.length, mode: file.mode ?? 0o644, mtime, uid: 0, gid: 0 }, content);
  }
  pack.finalize();
  return pack as unknown as NodeJS.ReadableStream;
}

/** Removes an image; a missing image is not an error. */
export async function removeImage(docker: Dockerode, ref: string, force = false): Promise<boolean> {
  try {
    await docker.getImage(ref).remove({ force });
    return true;
  } catch (error) {
    if (statusCodeOf(error) === 404) return false;
    throw new DockerError(`removing image ${ref} failed: ${engineMessage(error)}`, undefined, { cause: error });
  }
}
