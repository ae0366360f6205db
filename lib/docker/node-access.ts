// Nodes as Docker containers: NodeHandle (lib/node/handle.ts) through the Docker API only (no docker CLI).
// Commands without stdin go through the light keep-alive client (engine-api.ts), the rest through dockerode.

import type Dockerode from 'dockerode';
import type { Duplex } from 'node:stream';
import { posix } from 'node:path';
import { connectDocker } from './connect.ts';
import { DockerError, NodeFileMissingError, engineMessage, statusCodeOf } from './errors.ts';
import { NodeCommandError } from '../errors.ts';
import { demuxFrames } from './demux.ts';
import { EngineApiError, EngineClient, engineEndpoint, execCreateBody } from './engine-api.ts';
import type { ExecOptions, ExecResult, NodeHandle } from '../node/handle.ts';
import { readStateByExec } from '../node/read-state.ts';

export type { ExecOptions, ExecResult, NodeHandle } from '../node/handle.ts';

/** The error of a command that exits non-zero in a node: a CommandError (lib/errors.ts) with the node and stdout/stderr apart. */
export { NodeCommandError };

/** The light client the module-level handles share (a run's fleet has its own: dockerNodes). */
const sharedEngine = new EngineClient();

/**
 * A handle on the container named `containerName`. Connects lazily; cheap to create. With `docker`,
 * everything goes through that dockerode client; otherwise commands without stdin go through the light
 * client `engine` when it can reach the engine: a no-op run's probes then never load dockerode.
 */
export function nodeHandle(containerName: string, docker?: Dockerode, engine: EngineClient = sharedEngine): NodeHandle {
  const client = (): Promise<Dockerode> => (docker ? Promise.resolve(docker) : connectDocker());
  const light = !docker && engineEndpoint() !== undefined;
  const exec = async (argv: string[], opts: ExecOptions = {}): Promise<ExecResult> =>
    light && opts.stdin === undefined ? execLight(engine, containerName, argv, opts) : execIn(await client(), containerName, argv, opts);
  return {
    name: containerName,
    exec,
    putFile: async (path, content, mode = 0o644) => putFileIn(await client(), containerName, path, content, mode),
    getFile: async (path) => getFileFrom(await client(), containerName, path),
    systemctl: (...args) => exec(['systemctl', ...args]),
    readState: (query, signal) => readStateByExec(exec, containerName, query, signal),
  };
}

/**
 * The Docker transport of one run's node fleet: handles that share one light client of their own, whose
 * keep-alive sockets `close` ends (dockerode, when a write needs it, is the process's: connect.ts).
 */
export function dockerNodes(): { connect(container: string): NodeHandle; close(): void } {
  const engine = new EngineClient();
  return { connect: (container) => nodeHandle(container, undefined, engine), close: () => engine.close() };
}

function formatArgv(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function containerError(node: string, what: string, error: unknown): Error {
  const status = statusCodeOf(error);
  if (status === 404) {
    return new DockerError(`${node}: no such container (${what})`, 'build the node first, e.g. `npx tsx tasks.ts nodes`', { cause: error });
  }
  if (status === 409) {
    return new DockerError(`${node}: container is not running (${what})`, `start it with \`docker start ${node}\` or rerun \`npx tsx tasks.ts nodes\``, {
      cause: error,
    });
  }
  return new DockerError(`${node}: ${what} failed: ${engineMessage(error)}`, undefined, { cause: error });
}

async function execLight(engine: EngineClient, node: string, argv: string[], opts: ExecOptions): Promise<ExecResult> {
  if (argv.length === 0) throw new DockerError(`${node}: exec needs a command`);
  let result: ExecResult;
  try {
    result = await engine.exec(node, argv, { env: opts.env, workingDir: opts.workingDir, user: opts.user, signal: opts.signal });
  } catch (error) {
    if (opts.signal?.aborted) throw new DockerError('command cancelled', undefined, { cause: error });
    if (error instanceof DockerError && !(error instanceof EngineApiError)) throw error;
    throw containerError(node, `exec ${argv[0]}`, error);
  }
  if (result.exitCode !== 0 && !opts.allowFailure) {
    throw new NodeCommandError(node, argv, result.exitCode, result.stderr.toString('utf8'), result.stdout.toString('utf8'));
  }
  return result;
}

async function execIn(docker: Dockerode, node: string, argv: string[], opts: ExecOptions): Promise<ExecResult> {
  if (argv.length === 0) throw new DockerError(`${node}: exec needs a command`);
  const container = docker.getContainer(node);
  const hasStdin = opts.stdin !== undefined;
  let exec: Dockerode.Exec;
  try {
    exec = await container.exec(execCreateBody(argv, opts, hasStdin));
  } catch (error) {
    throw containerError(node, `exec ${argv[0]}`, error);
  }
  // hijack: the engine upgrades the HTTP connection to a raw socket carrying the multiplexed output
  // (and our stdin); without it, stdin could not be closed separately from the connection.
  let socket: Duplex;
  try {
    socket = (await exec.start({ hijack: true, stdin: hasStdin, abortSignal: opts.signal } as Dockerode.ExecStartOptions)) as Duplex;
  } catch (error) {
    throw containerError(node, `exec ${argv[0]}`, error);
  }
  const output = collectOutput(socket, opts.signal);
  if (hasStdin) feedStdin(socket, opts.stdin!);
  else socket.end();
  const { stdout, stderr } = await output;
  // The output stream ends before the engine records the exit code: poll until the exec is finished.
  const exitCode = await exitCodeOf(exec, node, argv, opts.signal);
  if (exitCode !== 0 && !opts.allowFailure) {
    throw new NodeCommandError(node, argv, exitCode, stderr.toString('utf8'), stdout.toString('utf8'));
  }
  return { stdout, stderr, exitCode };
}

/** Writes stdin to the hijacked socket, then half-closes it so the command reads EOF. */
function feedStdin(socket: Duplex, stdin: Buffer | string | NodeJS.ReadableStream): void {
  if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) {
    socket.end(stdin);
    return;
  }
  stdin.on('error', (error: Error) => socket.destroy(error));
  // pipe() handles backpressure and calls socket.end() after the last chunk.
  stdin.pipe(socket);
}

/** Reads the whole multiplexed stream into stdout/stderr buffers. Resolves when the engine closes it. */
function collectOutput(socket: Duplex, signal?: AbortSignal): Promise<{ stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const demux = demuxFrames((stream, payload) => {
      // Stream 1 is stdout, 2 is stderr; 0 (stdin echo) never comes without a TTY.
      if (stream === 2) stderr.push(payload);
      else stdout.push(payload);
    });
    const onAbort = () => socket.destroy(new DockerError('command cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
    };
    socket.on('data', (chunk: Buffer) => demux.push(chunk));
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (error) => finish(error));
  });
}

async function exitCodeOf(exec: Dockerode.Exec, node: string, argv: string[], signal?: AbortSignal): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const info = await exec.inspect();
    if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) return info.ExitCode;
    signal?.throwIfAborted();
    if (attempt > 1000) throw new DockerError(`${node}: \`${formatArgv(argv)}\` closed its output but never exited`);
    await new Promise((r) => setTimeout(r, Math.min(5 * (attempt + 1), 50)));
  }
}

async function putFileIn(docker: Dockerode, node: string, path: string, content: Buffer | string, mode: number): Promise<void> {
  if (!path.startsWith('/')) throw new DockerError(`${node}: putFile needs an absolute path, got "${path}"`);
  const dir = posix.dirname(path);
  const container = docker.getContainer(node);
  const archive = await singleFileTar(posix.basename(path), Buffer.from(content), mode);
  try {
    await container.putArchive(archive, { path: dir });
    return;
  } catch (error) {
    if (statusCodeOf(error) !== 404 || !(await containerExists(container))) throw containerError(node, `putFile ${path}`, error);
  }
  // The parent directory does not exist yet. It is created by a command rather than by tar entries:
  // a directory entry in the archive would also reset the mode and owner of existing parents (/etc).
  await execIn(docker, node, ['mkdir', '-p', dir], {});
  try {
    await container.putArchive(archive, { path: dir });
  } catch (error) {
    throw containerError(node, `putFile ${path}`, error);
  }
}

async function containerExists(container: Dockerode.Container): Promise<boolean> {
  try {
    await container.inspect();
    return true;
  } catch {
    return false;
  }
}

async function singleFileTar(name: string, content: Buffer, mode: number): Promise<Buffer> {
  const tar = await import('tar-stream');
  const pack = tar.pack();
  pack.entry({ name, size: content.length, mode, uid: 0, gid: 0, mtime: new Date(), type: 'file' }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function getFileFrom(docker: Dockerode, node: string, path: string, depth = 0): Promise<Buffer> {
  if (!path.startsWith('/')) throw new DockerError(`${node}: getFile needs an absolute path, got "${path}"`);
  const container = docker.getContainer(node);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await container.getArchive({ path });
  } catch (error) {
    if (statusCodeOf(error) === 404 && (await containerExists(container))) {
      throw new NodeFileMissingError(`${node}: ${path} does not exist`, 'the step that writes it has not run, or wrote it elsewhere');
    }
    throw containerError(node, `getFile ${path}`, error);
  }
  const tar = await import('tar-stream');
  const extract = tar.extract();
  (stream as NodeJS.ReadableStream).pipe(extract);
  let result: Buffer | undefined;
  let link: string | undefined;
  let kind: string | undefined;
  for await (const entry of extract) {
    if (kind === undefined) {
      kind = entry.header.type ?? 'file';
      if (kind === 'file' || kind === 'contiguous-file') {
        const chunks: Buffer[] = [];
        for await (const chunk of entry) chunks.push(chunk as Buffer);
        result = Buffer.concat(chunks);
        continue;
      }
      if (kind === 'symlink') link = entry.header.linkname ?? undefined;
    }
    entry.resume();
  }
  if (result) return result;
  if (link !== undefined) {
    if (depth > 20) throw new DockerError(`${node}: ${path}: too many levels of symbolic links`);
    return getFileFrom(docker, node, posix.resolve(posix.dirname(path), link), depth + 1);
  }
  throw new DockerError(`${node}: ${path} is not a regular file (${kind ?? 'empty archive'})`);
}
