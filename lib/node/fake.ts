// A recording fake node for unit tests: implements NodeHandle over an in-memory file and unit table,
// answers the systemctl/journalctl commands the node targets run, and records every write (with its
// mode), exec, unit restart and batched read, so a test can say exactly what a run did to a node.

import { createHash } from 'node:crypto';
// The error a real node throws on a non-zero exit, so code under test sees the same thing.
import { NodeCommandError } from '../errors.ts';
import type { ExecOptions, ExecResult, NodeHandle, NodeReadQuery, NodeState, UnitState } from './handle.ts';
import { NodeFleet, nodeReadsOf } from './fleet.ts';

export type FakeFile = { content: Buffer; mode: number; /** Whole seconds, as `stat %Y` prints it. */ mtime: number };

export type FakeUnit = UnitState & {
  /** systemd's Type= (`simple` unless set): a `oneshot` is not watched for restarts after it starts. */
  type?: string;
  /** NRestarts: automatic restarts since the unit was started. */
  restarts?: number;
  /** Its journal, for `journalctl -u`. */
  journal?: string[];
};

export type FakeExec = { argv: string[]; readOnly: boolean; stdin: boolean };

const ok = (stdout = ''): ExecResult => ({ stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), exitCode: 0 });
const failed = (stderr: string, exitCode = 1): ExecResult => ({ stdout: Buffer.alloc(0), stderr: Buffer.from(stderr), exitCode });
const unitName = (arg: string) => arg.replace(/\.service$/, '');

export class FakeNode implements NodeHandle {
  /** The node's files by absolute path; tests edit it to make drift. */
  readonly files = new Map<string, FakeFile>();
  /** The node's units by name without `.service`; tests edit it to stop one. */
  readonly units = new Map<string, FakeUnit>();
  /** Every putFile, in order. */
  readonly writes: { path: string; content: Buffer; mode: number }[] = [];
  /** Every exec, in order (readState's are not: see stateReads). */
  readonly execs: FakeExec[] = [];
  /** Units restarted (`systemctl restart`), in order. */
  readonly restarted: string[] = [];
  /** Every batched read, with what it asked for. */
  readonly stateReads: NodeReadQuery[] = [];
  /** The fake's clock, in whole seconds: each write stamps the file with the next second. */
  now = 1_700_000_000;
  /** What `systemctl restart` does to the unit (default: active, running). Replace to make a unit fail. */
  onRestart: (unit: string, state: FakeUnit) => void = (_unit, state) => Object.assign(state, { active: 'active', sub: 'running', job: false, restarts: 0, since: this.now });
  /** Commands the fake does not know; undefined = `command not found` (exit 127). */
  onExec?: (argv: string[], opts: ExecOptions) => ExecResult | undefined;

  constructor(readonly name: string) {}

  /** A file's content as text, or undefined when it does not exist. */
  text(path: string): string | undefined {
    return this.files.get(path)?.content.toString('utf8');
  }

  /** Execs that were not declared read-only: what the run may have changed. */
  mutatingExecs(): string[][] {
    return this.execs.filter((e) => !e.readOnly).map((e) => e.argv);
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.execs.push({ argv: [...argv], readOnly: !!opts.readOnly, stdin: opts.stdin !== undefined });
    opts.signal?.throwIfAborted();
    const result = this.run(argv, opts);
    if (result.exitCode !== 0 && !opts.allowFailure) throw new NodeCommandError(this.name, argv, result.exitCode, result.stderr.toString('utf8'), result.stdout.toString('utf8'));
    return result;
  }

  async putFile(path: string, content: Buffer | string, mode = 0o644): Promise<void> {
    if (!path.startsWith('/')) throw new Error(`${this.name}: putFile needs an absolute path, got "${path}"`);
    const bytes = Buffer.from(content);
    this.writes.push({ path, content: bytes, mode });
    this.files.set(path, { content: bytes, mode, mtime: ++this.now });
  }

  async getFile(path: string): Promise<Buffer> {
    const file = this.files.get(path);
    if (!file) throw new Error(`${this.name}: ${path} does not exist`);
    return file.content;
  }

  systemctl(...args: string[]): Promise<ExecResult> {
    return this.exec(['systemctl', ...args]);
  }

  async readState(query: NodeReadQuery): Promise<NodeState> {
    this.stateReads.push({ files: [...query.files], binaries: [...query.binaries], units: [...query.units], ...(query.commands ? { commands: { ...query.commands } } : {}) });
    const hashes = new Map<string, string>();
    for (const path of query.files) {
      const file = this.files.get(path);
      if (file) hashes.set(path, createHash('sha256').update(file.content).digest('hex'));
    }
    const stamps = new Map<string, string>();
    for (const path of query.binaries) {
      const file = this.files.get(path);
      if (file) stamps.set(path, `${file.content.length} ${file.mtime}`);
    }
    const units = new Map<string, UnitState>();
    for (const unit of query.units) {
      const { active, sub, enabled, job, since } = this.unit(unit);
      units.set(unit, { active, sub, enabled, job, ...(since !== undefined ? { since } : {}) });
    }
    // The commands go through the fake's own exec handling (not recorded in execs: part of this read).
    const outputs = new Map<string, string>();
    for (const [name, argv] of Object.entries(query.commands ?? {})) {
      const result = this.run([...argv], { readOnly: true });
      if (result.exitCode === 0) outputs.set(name, result.stdout.toString('utf8'));
    }
    return { hashes, stamps, units, outputs };
  }

  /** A unit's entry; one systemd has never heard of reads as `inactive (dead)`, not enabled. */
  private unit(name: string): FakeUnit {
    return this.units.get(name) ?? { active: 'inactive', sub: 'dead', enabled: '', job: false };
  }

  private run(argv: string[], opts: ExecOptions): ExecResult {
    const [cmd, verb, ...rest] = argv;
    const args = rest.filter((a) => !a.startsWith('-'));
    if (cmd === 'systemctl') {
      switch (verb) {
        case 'daemon-reload':
          return ok();
        case 'is-system-running':
          return ok('running\n');
        case 'enable':
          for (const u of args) this.units.set(unitName(u), { ...this.unit(unitName(u)), enabled: 'enabled' });
          return ok();
        case 'reset-failed':
          for (const u of args) if (this.units.get(unitName(u))?.active === 'failed') Object.assign(this.units.get(unitName(u))!, { active: 'inactive', sub: 'dead' });
          return ok();
        case 'restart':
          for (const u of args) {
            const state = this.units.get(unitName(u)) ?? this.unit(unitName(u));
            this.units.set(unitName(u), state);
            this.restarted.push(unitName(u));
            this.onRestart(unitName(u), state);
          }
          return ok();
        case 'show':
          return ok(args.map((u) => this.show(unitName(u))).join('\n\n') + '\n');
      }
    }
    if (cmd === 'journalctl') {
      const u = argv[argv.indexOf('-u') + 1] ?? '';
      return ok((this.unit(unitName(u)).journal ?? []).join('\n'));
    }
    return this.onExec?.(argv, opts) ?? failed(`${cmd}: command not found`, 127);
  }

  /** `systemctl show` of every property the node targets ask for. */
  private show(name: string): string {
    const u = this.unit(name);
    return [`Id=${name}.service`, `ActiveState=${u.active}`, `SubState=${u.sub}`, `UnitFileState=${u.enabled}`, `NRestarts=${u.restarts ?? 0}`, `Type=${u.type ?? 'simple'}`, `ActiveEnterTimestamp=${u.since !== undefined ? `@${u.since}` : ''}`, ...(u.job ? ['Job=1'] : [])].join('\n');
  }
}

/** A fleet over fake nodes (by address), reading what `targets` declare: what a test hands runBuild. */
export function fakeFleet(nodes: Iterable<FakeNode>, targets: Iterable<object>): NodeFleet {
  const byAddress = new Map([...nodes].map((n) => [n.name, n]));
  return new NodeFleet({
    connect: (address) => {
      const node = byAddress.get(address);
      if (!node) throw new Error(`fake fleet: no node at ${address} (have ${[...byAddress.keys()].join(', ')})`);
      return node;
    },
    declared: nodeReadsOf(targets),
  });
}
