// The nodes of one run: one handle per node, and the batched read of what the graph declared for each
// node, made on first ask and kept until this run writes to that node. Created per run (a run resource,
// tasks/nodes/node-fleet.ts) from the registered targets' declarations; no module state.

import type { ExecOptions, NodeHandle, NodeReadQuery, NodeState } from './handle.ts';

/**
 * What a target puts on or reads of a node, for the node's batched read: files by hash, binaries by
 * stamp, units, and read-only commands by name (one name is one command, whoever declares it).
 */
export type NodeReads = {
  node: string;
  files?: readonly string[];
  binaries?: readonly string[];
  units?: readonly string[];
  commands?: Readonly<Record<string, readonly string[]>>;
};

/** Where a target object carries its NodeReads (a symbol: no clash with the engine's fields, not in JSON). */
export const NODE_READS: unique symbol = Symbol.for('harder.node-reads');

type Declaring = { [NODE_READS]?: NodeReads };

/** Attaches `reads` to target `t` (returned as is): what the fleet of a run with `t` registered reads. */
export function declareNodeReads<T extends object>(t: T, reads: NodeReads): T {
  Object.defineProperty(t, NODE_READS, { value: reads, enumerable: false });
  return t;
}

/** Every node's read, gathered from the targets' declarations (in declaration order, duplicates once). */
export function nodeReadsOf(targets: Iterable<object>): Map<string, NodeReadQuery> {
  const sets = new Map<string, { files: Set<string>; binaries: Set<string>; units: Set<string>; commands: Map<string, readonly string[]> }>();
  for (const t of targets) {
    const reads = (t as Declaring)[NODE_READS];
    if (!reads) continue;
    let node = sets.get(reads.node);
    if (!node) sets.set(reads.node, (node = { files: new Set(), binaries: new Set(), units: new Set(), commands: new Map() }));
    for (const path of reads.files ?? []) node.files.add(path);
    for (const path of reads.binaries ?? []) node.binaries.add(path);
    for (const unit of reads.units ?? []) node.units.add(unit);
    for (const [name, argv] of Object.entries(reads.commands ?? {})) {
      const known = node.commands.get(name);
      if (known && known.join('\0') !== argv.join('\0')) throw new Error(`node ${reads.node}: two targets declare the read command ${name} differently (${known.join(' ')} / ${argv.join(' ')})`);
      node.commands.set(name, argv);
    }
  }
  return new Map(
    [...sets].map(([name, s]) => [name, { files: [...s.files], binaries: [...s.binaries], units: [...s.units], ...(s.commands.size ? { commands: Object.fromEntries(s.commands) } : {}) }]),
  );
}

const NOTHING: NodeReadQuery = { files: [], binaries: [], units: [] };

export type FleetOptions = {
  /** The transport: a handle on the node at `address` (a container name; later a host). Called once per address. */
  connect(address: string): NodeHandle;
  /** What to read of each node, by node name (nodeReadsOf the run's targets). */
  declared?: ReadonlyMap<string, NodeReadQuery>;
  /** Releases the transport (keep-alive sockets) when the run ends. */
  close?(): void | Promise<void>;
};

export class NodeFleet {
  private readonly handles = new Map<string, NodeHandle>();
  private readonly reads = new Map<string, Promise<NodeState>>();

  constructor(private readonly options: FleetOptions) {}

  /**
   * The node at `address` for this run. Writes through it (putFile, systemctl, an exec not marked
   * readOnly) drop the node's cached read, as they start and again when they end: a read that ran
   * alongside the write is not trusted either.
   */
  node(address: string): NodeHandle {
    let handle = this.handles.get(address);
    if (!handle) this.handles.set(address, (handle = this.wrap(address, this.options.connect(address))));
    return handle;
  }

  /**
   * Everything the graph declared for node `name` (at `address`), read in ONE call on first ask and
   * shared by every later ask until a write to that node. A failed read is not kept.
   */
  declared(name: string, address: string): Promise<NodeState> {
    const hit = this.reads.get(address);
    if (hit) return hit;
    const value = this.node(address).readState(this.options.declared?.get(name) ?? NOTHING);
    this.reads.set(address, value);
    value.catch(() => {
      if (this.reads.get(address) === value) this.reads.delete(address);
    });
    return value;
  }

  /**
   * The node changed by other means than this fleet (its container was started or recreated): later
   * asks read it afresh.
   */
  changed(address: string): void {
    this.reads.delete(address);
  }

  async close(): Promise<void> {
    this.reads.clear();
    await this.options.close?.();
  }

  private wrap(address: string, inner: NodeHandle): NodeHandle {
    const write = async <T>(run: () => Promise<T>): Promise<T> => {
      this.changed(address);
      try {
        return await run();
      } finally {
        this.changed(address);
      }
    };
    return {
      name: inner.name,
      exec: (argv: string[], opts: ExecOptions = {}) => (opts.readOnly ? inner.exec(argv, opts) : write(() => inner.exec(argv, opts))),
      putFile: (path, content, mode) => write(() => inner.putFile(path, content, mode)),
      getFile: (path) => inner.getFile(path),
      systemctl: (...args) => write(() => inner.systemctl(...args)),
      readState: (query, signal) => inner.readState(query, signal),
    };
  }
}
