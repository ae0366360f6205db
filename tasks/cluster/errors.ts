// Errors of the cluster step: one message naming the node and thing, plus a hint saying what to do.

export class ClusterError extends Error {
  hint?: string;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    if (hint !== undefined) this.hint = hint;
  }
}

/** A systemd unit did not reach `active`; the message carries its last journal lines. */
export class UnitFailedError extends ClusterError {}

/** A readiness check (etcd health, apiserver /readyz, node Ready, a Deployment) timed out. */
export class NotReadyError extends ClusterError {}
