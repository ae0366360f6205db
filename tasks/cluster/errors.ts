// Errors of the cluster step: one message naming the node and thing, plus a hint saying what to do (kind step-failed, lib/errors.ts).

import { StepError } from '../../lib/errors.ts';

export class ClusterError extends StepError {}

/** A systemd unit did not reach `active`; the message carries its last journal lines. */
export class UnitFailedError extends ClusterError {}

/** A readiness check (etcd health, apiserver /readyz, node Ready, a Deployment) timed out. */
export class NotReadyError extends ClusterError {}
