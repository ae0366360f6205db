// What "back in service" means for each component the cluster rolls one node at a time (rollout.ts). Each
// check is one read-only look, from the host where it can be (as every probe), else one read-only exec on
// the node; rollout.ts runs it once systemd reports the unit active with no job queued.

import type { NodeHandle } from '../../lib/node/handle.ts';
import { apiEndpointContainer } from '../nodes/labels.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import { runtimeApiArgv, serverStates } from '../endpoint/render.ts';
import { apiRequest, httpGet, loadIdentity } from './api-client.ts';
import { adminPaths, plannedNode, type ClusterContext } from './context.ts';
import { etcdctlArgs } from './etcd.ts';
import type { UnitHealth } from './rollout.ts';

/** The first line of a command's output, or its exit code when it printed nothing. */
function firstLine(res: { stdout: Buffer; stderr: Buffer; exitCode: number }): string {
  const text = `${res.stderr.toString('utf8')}\n${res.stdout.toString('utf8')}`.trim();
  return text.split('\n').find((l) => l.trim())?.trim().slice(0, 200) ?? `exit ${res.exitCode}`;
}

/**
 * A health endpoint on the node's address, asked from the host as every probe does (the node may be an SSH
 * machine with no curl). Component ports serve self-signed certificates; a status code is all that is read.
 */
function nodeEndpoint(ctx: ClusterContext, scheme: 'http' | 'https', port: number, path: string): UnitHealth {
  return {
    what: `${scheme}://<node>:${port}${path} answers 200`,
    check: async (_node, unit, actx) => {
      const url = `${scheme}://${plannedNode(ctx, unit.node).ip}:${port}${path}`;
      const res = await (scheme === 'https' ? apiRequest(url, { insecure: true }, { timeoutMs: 3000, signal: actx.signal }) : httpGet(url, { timeoutMs: 3000, signal: actx.signal })).catch((e: Error) => ({ status: 0, body: e.message }));
      return res.status === 200 ? undefined : `${url} answered ${res.status || 'nothing'}: ${res.body.slice(0, 120)}`;
    },
  };
}

/** etcd: the member answers `etcdctl endpoint health` (it has a leader and serves reads). */
export const etcdHealth: UnitHealth = {
  what: 'etcdctl endpoint health passes',
  check: async (node) => {
    const res = await node.exec([...etcdctlArgs(), 'endpoint', 'health'], { allowFailure: true, readOnly: true });
    return res.exitCode === 0 ? undefined : `etcd endpoint health: ${firstLine(res)}`;
  },
};

/**
 * The API endpoint's view of one apiserver (`show stat` of the runtime API): `UP`, `DOWN 1/2`…; undefined
 * when the endpoint does not answer (its container stopped or gone: endpoint:* targets put it back, and a
 * new HAProxy starts its servers UP).
 */
async function endpointStatus(endpoint: NodeHandle, server: string): Promise<string | undefined> {
  const res = await endpoint.exec(runtimeApiArgv('show stat'), { allowFailure: true, readOnly: true }).catch(() => undefined);
  if (!res || res.exitCode !== 0) return undefined;
  const servers = serverStates(res.stdout.toString('utf8'));
  if (servers.length === 0) return undefined;
  return servers.find((s) => s.server === server)?.status ?? 'not listed';
}

/**
 * kube-apiserver: its own /readyz answers 200 with the admin cert, and, where the cluster has an API
 * endpoint that is running, HAProxy has marked it UP again (2 passing checks 2 s apart after /readyz):
 * until then the endpoint sends nothing to it, and restarting the next apiserver would leave one fewer
 * serving than intended.
 */
export function apiserverHealth(ctx: ClusterContext): UnitHealth {
  const endpoint = ctx.endpoint ? apiEndpointContainer(ctx.config.clusterName) : undefined;
  return {
    what: `its /readyz answers 200${endpoint ? ' and the API endpoint has it UP' : ''}`,
    check: async (_node, unit, actx) => {
      const url = `https://${plannedNode(ctx, unit.node).ip}:${ctx.config.apiServerPort}/readyz`;
      const res = await apiRequest(url, loadIdentity(adminPaths(ctx, actx.root)), { timeoutMs: 3000, signal: actx.signal }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (res.status !== 200) return `${url} answered ${res.status || 'nothing'}: ${res.body.slice(0, 120)}`;
      if (!endpoint) return undefined;
      const status = await endpointStatus(nodeFleet.of(actx).node(endpoint), unit.node);
      return status === undefined || status.startsWith('UP') ? undefined : `the API endpoint ${endpoint} has ${unit.node} ${status}`;
    },
  };
}

type NodeObject = { status?: { conditions?: { type: string; status: string; lastHeartbeatTime?: string }[] } };

/**
 * kubelet: its /healthz answers (on its HTTPS port, with the admin cert: the loopback-only healthz port is not
 * reachable from the host), and its Node is Ready with a heartbeat from after the unit (re)started: a Node
 * stays Ready for ~40 s after its kubelet stops, so Ready alone says nothing about the new process.
 */
export function kubeletHealth(ctx: ClusterContext): UnitHealth {
  return {
    what: 'its /healthz answers and its Node reports Ready since the restart',
    check: async (_node, unit, actx, state) => {
      const admin = loadIdentity(adminPaths(ctx, actx.root));
      const healthz = `https://${plannedNode(ctx, unit.node).ip}:10250/healthz`;
      const local = await apiRequest(healthz, admin, { timeoutMs: 3000, signal: actx.signal }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (local.status !== 200) return `${healthz} answered ${local.status || 'nothing'}: ${local.body.slice(0, 120)}`;
      const since = state.since ?? NaN;
      const res = await apiRequest(`${ctx.plan.apiServerUrl}/api/v1/nodes/${unit.node}`, admin, { timeoutMs: 3000, signal: actx.signal }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (res.status !== 200) return `GET node ${unit.node} answered ${res.status || 'nothing'}: ${res.body.slice(0, 120)}`;
      const ready = (JSON.parse(res.body) as NodeObject).status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status !== 'True') return `node ${unit.node} is Ready=${ready?.status ?? 'unknown'}`;
      const beat = Date.parse(ready.lastHeartbeatTime ?? '') / 1000;
      // Heartbeats carry whole seconds: one in the second the unit started counts.
      if (Number.isFinite(since) && !(beat >= since)) return `node ${unit.node} has not reported since ${unit.unit} started (last heartbeat ${ready.lastHeartbeatTime})`;
      return undefined;
    },
  };
}

/** kube-proxy: /healthz answers 200 once its rules are synced. */
export const kubeProxyHealth = (ctx: ClusterContext) => nodeEndpoint(ctx, 'http', 10256, '/healthz');
/** kube-controller-manager's secure port (/healthz is always allowed anonymously). */
export const controllerManagerHealth = (ctx: ClusterContext) => nodeEndpoint(ctx, 'https', 10257, '/healthz');
/** kube-scheduler's secure port, likewise. */
export const schedulerHealth = (ctx: ClusterContext) => nodeEndpoint(ctx, 'https', 10259, '/healthz');

/**
 * containerd: its unit is `Type=notify`, and containerd sends READY=1 only once its gRPC socket serves, so
 * systemd's `active` with no job queued (checked before any check runs) already says it answers: no exec,
 * which keeps a no-op run's execs per node at the batched read and the probes that need one.
 */
export const containerdHealth: UnitHealth = {
  what: 'systemd reports it ready (Type=notify: READY=1 once its socket serves)',
  check: async () => undefined,
};
