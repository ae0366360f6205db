// A small Docker Engine API client over node:http (unix socket or plain tcp), for the read-only calls
// probes make on every no-op run: ping, inspect, and exec without stdin. Loading dockerode (with ssh2,
// grpc-js and protobufjs behind it) costs ~150 ms of CPU before the first request; a no-op run needs
// none of it. Builds keep using dockerode (connect.ts). One keep-alive agent per EngineClient: the
// module functions share one for the process; a run's node fleet has its own, closed when the run ends.

import { Agent, request, type IncomingMessage } from 'node:http';
import { demuxFrames } from './demux.ts';
import { DockerError, DockerUnavailableError } from './errors.ts';

/** Where requests go: a unix socket path, or a host and port. Undefined when DOCKER_HOST needs TLS or ssh. */
type Endpoint = { socketPath: string } | { host: string; port: number };

/** The endpoint for DOCKER_HOST (default socket), or undefined when only dockerode can reach it. */
export function engineEndpoint(env: NodeJS.ProcessEnv = process.env): Endpoint | undefined {
  const address = env.DOCKER_HOST && env.DOCKER_HOST.length > 0 ? env.DOCKER_HOST : 'unix:///var/run/docker.sock';
  if (address.startsWith('unix://')) return { socketPath: address.slice('unix://'.length) };
  if (address.startsWith('tcp://') && !env.DOCKER_TLS_VERIFY && !env.DOCKER_CERT_PATH) {
    const url = new URL(`http://${address.slice('tcp://'.length)}`);
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return undefined;
}

/** An error with the HTTP status and the engine's message, shaped like docker-modem's (statusCode, json). */
export class EngineApiError extends DockerError {
  statusCode: number;
  json: { message?: string } | undefined;
  constructor(what: string, statusCode: number, message: string) {
    super(`${what} failed: ${message}`);
    this.statusCode = statusCode;
    this.json = { message };
  }
}

type Sent = { response: IncomingMessage; body?: undefined } | { response?: undefined; body: Buffer; status: number };

/** Sends one request on `agent` (made on first use); resolves to the response stream (`stream: true`) or the whole body. */
function send(pool: { agent?: Agent }, method: string, path: string, options: { body?: unknown; stream?: boolean; signal?: AbortSignal } = {}): Promise<Sent> {
  const endpoint = engineEndpoint();
  if (!endpoint) return Promise.reject(new DockerError(`DOCKER_HOST=${process.env.DOCKER_HOST} needs dockerode (TLS or ssh)`));
  const agent = (pool.agent ??= new Agent({ keepAlive: true }));
  const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...endpoint,
        method,
        path,
        // A streamed exec output ends by closing the connection: it must not come from the shared pool.
        agent: options.stream ? false : agent,
        signal: options.signal,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
      },
      (response) => {
        if (options.stream && response.statusCode! < 300) return resolve({ response });
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ body: Buffer.concat(chunks), status: response.statusCode! }));
        response.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (options.signal?.aborted) return reject(error);
      const where = 'socketPath' in endpoint ? `unix://${endpoint.socketPath}` : `tcp://${endpoint.host}:${endpoint.port}`;
      reject(
        new DockerUnavailableError(`Docker is not running: no engine answers at ${where} (${error.code ?? error.message})`, 'start dockerd, or set DOCKER_HOST to where it listens', {
          cause: error,
        }),
      );
    });
    req.end(payload);
  });
}

function messageOf(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    return text.trim() || '(no message)';
  }
}

export type EngineExecOptions = { env?: Record<string, string>; workingDir?: string; user?: string; signal?: AbortSignal };

/** The body of POST /containers/{id}/exec: shared by this client and the dockerode path (which adds stdin). */
export function execCreateBody(argv: string[], opts: Omit<EngineExecOptions, 'signal'>, attachStdin: boolean) {
  return {
    Cmd: argv,
    AttachStdin: attachStdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    Env: opts.env ? Object.entries(opts.env).map(([k, v]) => `${k}=${v}`) : undefined,
    WorkingDir: opts.workingDir,
    User: opts.user,
  };
}

/** The light client, with its own keep-alive agent (made on the first request, destroyed by close). */
export class EngineClient {
  agent: Agent | undefined;

  /** A JSON call; throws EngineApiError on an HTTP error status. */
  async json<T>(method: string, path: string, what: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const sent = (await send(this, method, path, { body, signal })) as { body: Buffer; status: number };
    if (sent.status >= 300) throw new EngineApiError(what, sent.status, messageOf(sent.body));
    return (sent.body.length ? JSON.parse(sent.body.toString('utf8')) : undefined) as T;
  }

  /** GET /_ping within `timeoutMs`; throws DockerUnavailableError when nothing answers. */
  async ping(timeoutMs: number): Promise<void> {
    const sent = (await send(this, 'GET', '/_ping', { signal: AbortSignal.timeout(timeoutMs) }).catch((error: Error) => {
      throw error instanceof DockerError ? error : new DockerUnavailableError(`Docker is not running: ${error.message}`, 'start dockerd', { cause: error });
    })) as { status: number; body: Buffer };
    if (sent.status !== 200) throw new DockerUnavailableError(`Docker answered /_ping with HTTP ${sent.status}: ${messageOf(sent.body)}`, 'check dockerd\'s log');
  }

  /** Inspects a container, image or network; undefined when it does not exist (404). */
  async inspect<T>(kind: 'containers' | 'images' | 'networks', name: string): Promise<T | undefined> {
    const path = kind === 'networks' ? `/networks/${encodeURIComponent(name)}` : `/${kind}/${encodeURIComponent(name)}/json`;
    const sent = (await send(this, 'GET', path)) as { body: Buffer; status: number };
    if (sent.status === 404) return undefined;
    const singular = kind.slice(0, -1);
    if (sent.status >= 300) throw new EngineApiError(`inspecting ${singular} ${name}`, sent.status, messageOf(sent.body));
    return JSON.parse(sent.body.toString('utf8')) as T;
  }

  /**
   * Runs argv in a running container without stdin: create, start (output streamed back as multiplexed
   * frames until the engine closes the connection), then the exit code. Errors carry statusCode (404 no
   * such container, 409 not running) like docker-modem's.
   */
  async exec(container: string, argv: string[], opts: EngineExecOptions = {}): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const what = `exec ${argv[0]} in ${container}`;
    const created = await this.json<{ Id: string }>('POST', `/containers/${encodeURIComponent(container)}/exec`, what, execCreateBody(argv, opts, false), opts.signal);
    const sent = await send(this, 'POST', `/exec/${created.Id}/start`, { body: { Detach: false, Tty: false }, stream: true, signal: opts.signal });
    if (!sent.response) throw new EngineApiError(what, sent.status, messageOf(sent.body));
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const demux = demuxFrames((stream, payload) => (stream === 2 ? stderr : stdout).push(payload));
    await new Promise<void>((resolve, reject) => {
      sent.response.on('data', (chunk: Buffer) => demux.push(chunk));
      sent.response.on('end', resolve);
      sent.response.on('close', resolve);
      sent.response.on('error', reject);
    });
    // The output ends before the engine records the exit code: poll until the exec is finished.
    for (let attempt = 0; ; attempt++) {
      const info = await this.json<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${created.Id}/json`, what, undefined, opts.signal);
      if (!info.Running && info.ExitCode !== null && info.ExitCode !== undefined) {
        return { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), exitCode: info.ExitCode };
      }
      opts.signal?.throwIfAborted();
      if (attempt > 1000) throw new DockerError(`${what}: closed its output but never exited`);
      await new Promise((r) => setTimeout(r, Math.min(5 * (attempt + 1), 50)));
    }
  }

  /** Closes the idle keep-alive sockets (a later request opens new ones). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}

/** The process's shared client, behind the module functions below. */
const shared = new EngineClient();

export const engineJson = <T>(method: string, path: string, what: string, body?: unknown, signal?: AbortSignal): Promise<T> => shared.json<T>(method, path, what, body, signal);
export const enginePing = (timeoutMs: number): Promise<void> => shared.ping(timeoutMs);
export const engineInspect = <T>(kind: 'containers' | 'images' | 'networks', name: string): Promise<T | undefined> => shared.inspect<T>(kind, name);
export const engineExec = (container: string, argv: string[], opts: EngineExecOptions = {}) => shared.exec(container, argv, opts);
