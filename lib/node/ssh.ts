// Machines over SSH: NodeHandle (handle.ts) over one persistent ssh2 connection per machine. Commands are
// exec channels on that connection (stdin streamed, EOF sent after it); files go over one SFTP session
// as a temporary file in the target's directory, chmod, then an atomic rename (for a root login; a sudo
// login streams the file to a root shell instead, since SFTP writes as the login user). The batched read
// is one exec (read-state.ts). Every request is counted in `stats`, so a test can say what a run cost.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Client as SshClient, ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { NodeCommandError } from '../errors.ts';
import { NodeFileMissingError } from '../docker/errors.ts';
import { Slots } from '../engine/slots.ts';
import type { ExecOptions, ExecResult, NodeHandle, NodeReadQuery, NodeState } from './handle.ts';
import type { KnownHosts } from './known-hosts.ts';
import { MachineError } from './machine-error.ts';
import { readStateByExec } from './read-state.ts';

/** How to reach one machine. */
export type SshMachine = {
  /** The node's name, for messages. */
  name: string;
  /** Address or host name. */
  host: string;
  port?: number;
  /** Login user: root, or a user with passwordless sudo (commands then run under `sudo -n`). */
  user: string;
  /** Path of a private key (OpenSSH or PEM, unencrypted); without it, the SSH agent (SSH_AUTH_SOCK). */
  key?: string;
};

export type SshOptions = {
  knownHosts: KnownHosts;
  /** Bound on TCP connect plus handshake (default 10 s). */
  readyTimeoutMs?: number;
  /**
   * Channels open at once on the connection (default 6). sshd allows 10 sessions per connection
   * (MaxSessions) and frees one a little after its channel closes; the SFTP session takes one more.
   */
  maxChannels?: number;
  /** Called once when trust on first use recorded a key (the CLI says so). */
  onRecorded?: (machine: string, line: string) => void;
};

/** What went over the wire: connections made, exec channels, SFTP requests. */
export type SshStats = { connects: number; execs: number; sftpRequests: number };

/** A word for a shell command line: bare when it is safe, single-quoted otherwise. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A session sshd refused to open: retried by runChannel. */
const CHANNEL_REFUSED = Symbol('channel refused');

/** SFTP's status code for a missing file (SSH_FX_NO_SUCH_FILE). */
const NO_SUCH_FILE = 2;

/**
 * Writes stdin to a temporary file in the target's directory, sets its mode and renames it over the
 * target: a reader never sees half a file. Arguments: path, octal mode. Runs as root (under sudo).
 */
const PUT_SCRIPT = [
  'set -e',
  'd=$(dirname -- "$1")',
  'mkdir -p -- "$d"',
  't=$(mktemp -- "$d/.harder-put.XXXXXX")',
  "trap 'rm -f -- \"$t\"' EXIT",
  'cat > "$t"',
  'chown 0:0 -- "$t"',
  'chmod "$2" -- "$t"',
  'mv -f -- "$t" "$1"',
  'trap - EXIT',
].join('\n');

export class SshNodeHandle implements NodeHandle {
  readonly name: string;
  readonly stats: SshStats = { connects: 0, execs: 0, sftpRequests: 0 };
  private readonly port: number;
  private readonly address: string;
  private readonly slots: Slots;
  private client?: Promise<SshClient>;
  private sftpSession?: Promise<SFTPWrapper>;

  constructor(
    readonly machine: SshMachine,
    private readonly options: SshOptions,
  ) {
    this.name = machine.name;
    this.port = machine.port ?? 22;
    this.address = `${machine.host}:${this.port}`;
    this.slots = new Slots(options.maxChannels ?? 6);
  }

  /** Whether commands go through sudo (a login that is not root). */
  get sudo(): boolean {
    return this.machine.user !== 'root';
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.length === 0) throw new MachineError(this.name, this.address, 'exec needs a command');
    const client = await this.connect();
    const result = await this.slots.run(0, () => this.runChannel(client, this.commandLine(argv, opts), opts));
    if (result.exitCode !== 0 && !opts.allowFailure) {
      throw new NodeCommandError(this.name, argv, result.exitCode, result.stderr.toString('utf8'), result.stdout.toString('utf8'));
    }
    return result;
  }

  async putFile(path: string, content: Buffer | string, mode = 0o644): Promise<void> {
    if (!path.startsWith('/')) throw new MachineError(this.name, this.address, `putFile needs an absolute path, got "${path}"`);
    const bytes = Buffer.from(content);
    if (this.sudo) {
      await this.exec(['bash', '-c', PUT_SCRIPT, 'put', path, mode.toString(8)], { stdin: bytes });
      return;
    }
    const sftp = await this.sftp();
    const temp = posix.join(posix.dirname(path), `.harder-put.${randomBytes(6).toString('hex')}`);
    try {
      await this.sftpCall<void>((done) => sftp.writeFile(temp, bytes, { mode }, done));
    } catch (error) {
      if ((error as { code?: unknown }).code !== NO_SUCH_FILE) throw this.fileError('putFile', path, error);
      // The directory does not exist yet: made by a command, like `mkdir -p` would on the machine.
      await this.exec(['mkdir', '-p', '--', posix.dirname(path)]);
      await this.sftpCall<void>((done) => sftp.writeFile(temp, bytes, { mode }, done)).catch((e) => Promise.reject(this.fileError('putFile', path, e)));
    }
    try {
      // The open's mode went through sftp-server's umask: set it exactly, then replace the target atomically.
      await this.sftpCall<void>((done) => sftp.chmod(temp, mode, done));
      await this.sftpCall<void>((done) => sftp.ext_openssh_rename(temp, path, done));
    } catch (error) {
      await this.sftpCall<void>((done) => sftp.unlink(temp, done)).catch(() => undefined);
      throw this.fileError('putFile', path, error);
    }
  }

  async getFile(path: string): Promise<Buffer> {
    if (!path.startsWith('/')) throw new MachineError(this.name, this.address, `getFile needs an absolute path, got "${path}"`);
    const missing = () => new NodeFileMissingError(`${this.name}: ${path} does not exist`, 'the step that writes it has not run, or wrote it elsewhere');
    if (this.sudo) {
      const result = await this.exec(['cat', '--', path], { allowFailure: true, readOnly: true });
      if (result.exitCode === 0) return result.stdout;
      if (/No such file/.test(result.stderr.toString('utf8'))) throw missing();
      throw new NodeCommandError(this.name, ['cat', '--', path], result.exitCode, result.stderr.toString('utf8'), '');
    }
    const sftp = await this.sftp();
    try {
      // SFTP's open follows symlinks, like cat.
      return await this.sftpCall<Buffer>((done) => sftp.readFile(path, done));
    } catch (error) {
      if ((error as { code?: unknown }).code === NO_SUCH_FILE) throw missing();
      throw this.fileError('getFile', path, error);
    }
  }

  systemctl(...args: string[]): Promise<ExecResult> {
    return this.exec(['systemctl', ...args]);
  }

  readState(query: NodeReadQuery, signal?: AbortSignal): Promise<NodeState> {
    return readStateByExec((argv, opts) => this.exec(argv, opts), this.name, query, signal);
  }

  /** Closes the connection (a later call connects again). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.sftpSession = undefined;
    if (!client) return;
    try {
      (await client).end();
    } catch {
      /* it never connected: nothing to close */
    }
  }

  /** The command line the login shell runs: sudo for a non-root login, env, argv, each word quoted. */
  commandLine(argv: string[], opts: Pick<ExecOptions, 'env' | 'user' | 'workingDir'> = {}): string {
    const words: string[] = [];
    const asOther = opts.user !== undefined && opts.user !== 'root';
    if (this.sudo) words.push('sudo', '-n', ...(asOther ? ['-u', opts.user!] : []), '--');
    else if (asOther) words.push('runuser', '-u', opts.user!, '--');
    if (opts.env && Object.keys(opts.env).length > 0) words.push('env', ...Object.entries(opts.env).map(([k, v]) => `${k}=${v}`));
    words.push(...argv);
    const line = words.map(shellQuote).join(' ');
    return opts.workingDir ? `cd ${shellQuote(opts.workingDir)} && ${line}` : line;
  }

  private async runChannel(client: SshClient, command: string, opts: ExecOptions): Promise<ExecResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runChannelOnce(client, command, opts, attempt < 4);
      } catch (error) {
        // sshd refused the session (its count lags behind closed channels): the command never started.
        if (error !== CHANNEL_REFUSED) throw error;
        await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
  }

  private runChannelOnce(client: SshClient, command: string, opts: ExecOptions, mayRetry: boolean): Promise<ExecResult> {
    opts.signal?.throwIfAborted();
    this.stats.execs++;
    return new Promise((resolve, reject) => {
      client.exec(command, (error, channel: ClientChannel) => {
        if (error) {
          if (mayRetry && /open failed/.test(error.message)) return reject(CHANNEL_REFUSED);
          reject(new MachineError(this.name, this.address, `opening a command channel failed: ${error.message}`, 'the connection dropped or sshd refused a session; run again', { cause: error }));
          return;
        }
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let exitCode: number | undefined;
        let exitSignal: string | undefined;
        const onAbort = () => {
          channel.close();
          reject(new MachineError(this.name, this.address, 'command cancelled'));
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (code: number | null, signal?: string) => {
          exitCode = code ?? undefined;
          exitSignal = signal;
        });
        channel.on('close', () => {
          opts.signal?.removeEventListener('abort', onAbort);
          // A command killed by a signal has no exit status: report it like a shell would (128 + n unknown here).
          const code = exitCode ?? (exitSignal ? 128 : 255);
          resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), exitCode: code });
        });
        const stdin = opts.stdin;
        if (stdin === undefined) channel.end();
        else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
        else {
          stdin.on('error', () => channel.destroy());
          // pipe() handles backpressure and sends EOF after the last chunk.
          stdin.pipe(channel);
        }
      });
    });
  }

  private sftp(): Promise<SFTPWrapper> {
    if (this.sftpSession) return this.sftpSession;
    const session = this.connect().then(
      (client) =>
        new Promise<SFTPWrapper>((resolve, reject) => {
          this.stats.sftpRequests++;
          client.sftp((error, sftp) => (error ? reject(new MachineError(this.name, this.address, `starting SFTP failed: ${error.message}`, 'check that sshd has `Subsystem sftp` enabled (Debian does by default)', { cause: error })) : resolve(sftp)));
        }),
    );
    this.sftpSession = session;
    session.then(
      (sftp) => sftp.on('close', () => this.sftpSession === session && (this.sftpSession = undefined)),
      () => this.sftpSession === session && (this.sftpSession = undefined),
    );
    return session;
  }

  private sftpCall<T>(call: (done: (error: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    this.stats.sftpRequests++;
    return new Promise((resolve, reject) => call((error, value) => (error ? reject(error) : resolve(value as T))));
  }

  private fileError(what: string, path: string, error: unknown): MachineError {
    const message = error instanceof Error ? error.message : String(error);
    return new MachineError(this.name, this.address, `${what} ${path} failed: ${message}`, this.sudo ? undefined : 'SFTP writes as the login user: log in as root, or as a user with passwordless sudo', { cause: error });
  }

  /** The connection, made on first use and shared by every request; after it drops, the next request reconnects. */
  private connect(): Promise<SshClient> {
    if (this.client) return this.client;
    const pending = this.open();
    this.client = pending;
    pending.catch(() => this.client === pending && (this.client = undefined));
    return pending;
  }

  private async open(): Promise<SshClient> {
    const { machine } = this;
    const auth: Partial<ConnectConfig> = {};
    if (machine.key) {
      try {
        auth.privateKey = readFileSync(machine.key);
      } catch (error) {
        throw new MachineError(machine.name, this.address, `cannot read the SSH key ${machine.key}: ${(error as Error).message}`, 'set the machine\'s `key` to a readable private key file, or leave it out to use the SSH agent', { cause: error });
      }
    } else if (process.env.SSH_AUTH_SOCK) auth.agent = process.env.SSH_AUTH_SOCK;
    else throw new MachineError(machine.name, this.address, 'no SSH key given and no SSH agent running (SSH_AUTH_SOCK is not set)', "set the machine's `key` to a private key file, or start an agent and `ssh-add` the key");

    const { Client } = await import('ssh2');
    const client = new Client();
    this.stats.connects++;
    let hostKeyProblem: MachineError | undefined;
    return new Promise((resolve, reject) => {
      let ready = false;
      client.on('ready', () => {
        ready = true;
        resolve(client);
      });
      client.on('error', (error: Error & { level?: string; code?: string }) => {
        if (!ready) reject(hostKeyProblem ?? this.connectError(error));
        // After ready, a dropped connection fails the requests in flight; 'close' makes the next one reconnect.
      });
      client.on('close', () => {
        if (this.client && ready) {
          this.client = undefined;
          this.sftpSession = undefined;
        }
        if (!ready) reject(hostKeyProblem ?? new MachineError(machine.name, this.address, 'the connection closed during the handshake', 'check that sshd runs on that port'));
      });
      try {
        client.connect({
          host: machine.host,
          port: this.port,
          username: machine.user,
          ...auth,
          readyTimeout: this.options.readyTimeoutMs ?? 10_000,
          keepaliveInterval: 15_000,
          hostVerifier: (key: Buffer) => {
            const verdict = this.options.knownHosts.verify(machine.name, machine.host, this.port, key);
            if (!verdict.trusted) {
              hostKeyProblem = verdict.error;
              return false;
            }
            if (verdict.recorded) this.options.onRecorded?.(machine.name, `${machine.host}:${this.port}`);
            return true;
          },
        });
      } catch (error) {
        // ssh2 parses the key synchronously: an encrypted or malformed key lands here.
        reject(new MachineError(machine.name, this.address, `the SSH key ${machine.key} cannot be used: ${(error as Error).message}`, 'use an unencrypted key file, or load the key into an SSH agent and leave `key` out', { cause: error }));
      }
    });
  }

  private connectError(error: Error & { level?: string; code?: string }): MachineError {
    const { machine } = this;
    if (error.level === 'client-authentication') {
      return new MachineError(machine.name, this.address, `user ${machine.user} was refused: the server accepted none of the keys offered (${machine.key ?? 'the SSH agent'})`, `add the public key to ~${machine.user}/.ssh/authorized_keys on the machine, or fix the machine's \`user\`/\`key\``, { cause: error });
    }
    if (error.level === 'client-timeout' || ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET'].includes(error.code ?? '')) {
      return new MachineError(machine.name, this.address, `unreachable: ${error.code ?? error.message}`, 'check the address and port, that the machine is up and that sshd is running (`systemctl status ssh` on it)', { cause: error });
    }
    return new MachineError(machine.name, this.address, `SSH connection failed: ${error.message}`, undefined, { cause: error });
  }
}

/** One handle per machine for a run's fleet, and `close` for all of them when the run ends. */
export function sshNodes(options: SshOptions): { connect(machine: SshMachine): SshNodeHandle; close(): Promise<void> } {
  const handles = new Map<string, SshNodeHandle>();
  return {
    connect: (machine) => {
      let handle = handles.get(machine.name);
      if (!handle) handles.set(machine.name, (handle = new SshNodeHandle(machine, options)));
      return handle;
    },
    close: async () => {
      await Promise.all([...handles.values()].map((h) => h.close()));
    },
  };
}
