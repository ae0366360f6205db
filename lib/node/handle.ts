// The one interface for talking to a node, whatever carries it: Docker today (lib/docker/node-access.ts),
// machines over SSH later, an in-memory recording fake in tests (fake.ts). No transport's types in it.

export type ExecResult = { stdout: Buffer; stderr: Buffer; exitCode: number };

export type ExecOptions = {
  /** Bytes fed to the command's stdin; the write side is closed after them, so the command sees EOF. */
  stdin?: Buffer | string | NodeJS.ReadableStream;
  env?: Record<string, string>;
  /** Return the result on a non-zero exit instead of throwing NodeCommandError. */
  allowFailure?: boolean;
  /** Aborting closes the connection; the command itself may keep running on the node. */
  signal?: AbortSignal;
  /** Working directory on the node. */
  workingDir?: string;
  /** User on the node (default: the transport's, root for node images). */
  user?: string;
  /**
   * The command changes nothing on the node (a `systemctl show`, a `journalctl`): reads of the node a
   * fleet cached stay valid. Any other exec counts as a write and drops them (fleet.ts).
   */
  readOnly?: boolean;
};

/** What to read in one round trip: files hashed, binaries by size and mtime, systemd units. */
export type NodeReadQuery = {
  /** Absolute paths, hashed (sha256). */
  files: readonly string[];
  /** Large files (binaries), checked by `size mtime` instead: hashing 250 MB on every no-op run costs a second. */
  binaries: readonly string[];
  /** Unit names without `.service`. */
  units: readonly string[];
  /** Read-only commands run in the same round trip, by name (a listing several probes share). Absent: none. */
  commands?: Readonly<Record<string, readonly string[]>>;
};

/** A unit as `systemctl show` reports it: ActiveState, SubState, UnitFileState and whether a job is queued. */
export type UnitState = {
  active: string;
  sub: string;
  enabled: string;
  job: boolean;
  /** When the unit last entered `active` (ActiveEnterTimestamp, Unix seconds); undefined if it never has. */
  since?: number;
};

/** What one read returns. Missing files and binaries are absent from their maps. */
export type NodeState = {
  /** sha256 of each file asked for. */
  hashes: Map<string, string>;
  /** `size mtime` (bytes, whole seconds) of each binary asked for. */
  stamps: Map<string, string>;
  /** State of each unit asked for, by name without `.service`. */
  units: Map<string, UnitState>;
  /** The stdout of each command asked for that exited 0, by name; one that failed is absent (run it alone for its error). */
  outputs: Map<string, string>;
};

export interface NodeHandle {
  /** How messages name the node: its container name (or host). */
  readonly name: string;
  /** Runs argv (no shell), with or without stdin; throws NodeCommandError on a non-zero exit unless allowFailure. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Writes a file (owner root, default mode 0644), creating parent directories. */
  putFile(path: string, content: Buffer | string, mode?: number): Promise<void>;
  /** Reads a file (symlinks followed); NodeFileMissingError if it does not exist. */
  getFile(path: string): Promise<Buffer>;
  /** `systemctl <args>`; throws like exec on failure; counts as a write. */
  systemctl(...args: string[]): Promise<ExecResult>;
  /** Hashes of many files, stamps of many binaries and states of many units at once: one round trip. */
  readState(query: NodeReadQuery, signal?: AbortSignal): Promise<NodeState>;
}

/** Reasons a read-only view refuses. */
const READ_ONLY = (node: string, what: string) => new Error(`${node}: ${what} through a read-only view (a probe only reads)`);

/**
 * The node for code that must only read (a probe: `--dry-run` and `--graph` run probes and promise to
 * change nothing): every exec is declared read-only, so it leaves a fleet's cached reads alone; putFile
 * and systemctl are refused.
 */
export function readOnlyView(node: NodeHandle): NodeHandle {
  return {
    name: node.name,
    exec: (argv, opts = {}) => node.exec(argv, { ...opts, readOnly: true }),
    putFile: async (path) => Promise.reject(READ_ONLY(node.name, `putFile ${path}`)),
    getFile: (path) => node.getFile(path),
    systemctl: async (...args) => Promise.reject(READ_ONLY(node.name, `systemctl ${args.join(' ')}`)),
    readState: (query, signal) => node.readState(query, signal),
  };
}
