// etcd targets: per control plane its certs, unit file, membership and running unit; one check before a
// membership change (`etcd:membership`); then one health check of all members.
//
// A fresh cluster and a running one differ by what is recorded: when no control plane has a recorded etcd
// unit, every member is new and they start together with state `new` (as etcd's static bootstrap wants).
// Otherwise the cluster is running, and each control plane without a recorded unit joins it: `member add`
// on a running member, then its first start with state `existing`, one member at a time (etcd accepts no
// second unstarted member), each started before the next is added.

import { target, type AnyTarget } from '../../lib/engine/target.ts';
import type { RecordedTargets } from '../../lib/engine/state.ts';
import { controlPlanes, type ClusterConfig } from '../config/config.ts';
import { certSource, nodeBinary, nodeTarget, plannedNode, type ClusterContext, type UnitTarget } from './context.ts';
import { restartOutOfEndpoint } from './control-plane.ts';
import { ClusterError, NotReadyError } from './errors.ts';
import { etcdPaths, unitPath } from './layout.ts';
import { binaryTarget, fileTarget, journalTail, sleep, unitTarget } from './node-targets.ts';
import type { NodeHandle } from '../../lib/node/handle.ts';
import { machineAddress, nodeFleet } from '../nodes/node-fleet.ts';
import { containerName } from '../nodes/labels.ts';
import type { NodeContainer } from '../nodes/containers.ts';
import { etcdPeerUrl, renderEtcdBootstrapEnv, renderEtcdUnit, type EtcdMember } from './render/etcd.ts';
import { findMember, joiningInitialCluster, memberLabel, membershipState, parseMemberList, quorumProblem, statusSaysLeader, type ListedMember, type MembershipState } from './etcd-membership.ts';

/** etcdctl arguments that authenticate with the member's own server cert (peer profile: client auth too). */
export function etcdctlArgs(endpoint = 'https://127.0.0.1:2379'): string[] {
  return [etcdPaths.etcdctl, `--endpoints=${endpoint}`, `--cacert=${etcdPaths.ca}`, `--cert=${etcdPaths.serverCert}`, `--key=${etcdPaths.serverKey}`, '--dial-timeout=5s', '--command-timeout=10s'];
}

/** A control plane the journal knows: its `node:<name>` record, and whether its etcd unit ever ran. */
export type RecordedControlPlane = { name: string; ip: string; container: string; etcd: boolean };

/** The control planes with a recorded node (in config order where still configured, then the others by name). */
export function recordedControlPlanes(config: ClusterConfig, recorded: RecordedTargets | undefined): RecordedControlPlane[] {
  if (!recorded) return [];
  const names = new Set(recorded.names());
  const out: RecordedControlPlane[] = [];
  for (const name of names) {
    if (!name.startsWith('node:')) continue;
    const node = recorded.result(name) as Partial<NodeContainer> | undefined;
    if (!node || node.role !== 'control-plane' || typeof node.ip !== 'string' || typeof node.container !== 'string') continue;
    const cp = name.slice('node:'.length);
    out.push({ name: cp, ip: node.ip, container: node.container, etcd: names.has(`unit:${cp}:etcd`) });
  }
  const order = new Map(config.nodes.map((n, i) => [n.name, i]));
  return out.sort((a, b) => (order.get(a.name) ?? Infinity) - (order.get(b.name) ?? Infinity) || a.name.localeCompare(b.name));
}

/** Thrown when a membership change would lose etcd's quorum: nothing was changed. */
export class MembershipRefusedError extends ClusterError {}

/**
 * etcdctl argv for reading a running member, wherever its etcdctl is: ours, else Debian's in /usr/bin, which
 * a cluster made before etcd was built from its module has until a run installs ours (the membership
 * check, which reads the running members, may come first in that run).
 */
function runningEtcdctl(endpoint?: string): string[] {
  const [, ...flags] = etcdctlArgs(endpoint);
  return ['sh', '-c', `e=${etcdPaths.etcdctl}; [ -x "$e" ] || e=/usr/bin/etcdctl; exec "$e" "$@"`, 'etcdctl', ...flags];
}

/** The member list and health as one running member sees them; undefined when none of `peers` answers. */
export async function readMembership(peers: readonly NodeHandle[], all: boolean): Promise<{ peer: NodeHandle; list: ListedMember[]; state: MembershipState } | undefined> {
  for (const peer of peers) {
    // A peer whose container or machine is not there (yet) is skipped like one whose etcd does not answer.
    const listed = await peer.exec([...runningEtcdctl(), 'member', 'list'], { allowFailure: true, readOnly: true }).catch(() => undefined);
    if (listed?.exitCode !== 0) continue;
    const list = parseMemberList(listed.stdout.toString('utf8'));
    if (!all) return { peer, list, state: { members: [] } };
    const urls = list.flatMap((m) => m.clientUrls);
    const health = urls.length ? await peer.exec([...runningEtcdctl(urls.join(',')), 'endpoint', 'health'], { allowFailure: true, readOnly: true }).catch(() => undefined) : undefined;
    const output = health ? `${health.stdout.toString('utf8')}\n${health.stderr.toString('utf8')}` : '';
    return { peer, list, state: membershipState(list, output) };
  }
  return undefined;
}

export function etcdTargets(ctx: ClusterContext) {
  const cps = controlPlanes(ctx.config);
  const members: EtcdMember[] = cps.map((n) => ({ name: n.name, ip: plannedNode(ctx, n.name).ip }));
  const recorded = recordedControlPlanes(ctx.config, ctx.recorded);
  const running = recorded.filter((r) => r.etcd);
  const fresh = running.length === 0;
  const joining = fresh ? [] : members.filter((m) => !running.some((r) => r.name === m.name));
  const leaving = running.filter((r) => !members.some((m) => m.name === r.name));
  const all: AnyTarget[] = [];
  const units: Record<string, UnitTarget> = {};
  // etcd and etcdctl on every member, where the unit and the membership steps expect them.
  const installs = Object.fromEntries(
    members.map((m) => {
      const nt = nodeTarget(ctx, m.name);
      return [m.name, { etcd: binaryTarget(m.name, nt, nodeBinary(ctx, 'etcd', m.name), 'etcd', etcdPaths.etcd), etcdctl: binaryTarget(m.name, nt, nodeBinary(ctx, 'etcdctl', m.name), 'etcdctl', etcdPaths.etcdctl) }];
    }),
  );
  // Removals run the last (in name order) first: tasks/nodes/removal.ts.
  const membership = membershipCheckTarget(ctx.config, members, running, joining.map((m) => m.name), leaving.map((r) => r.name).sort((a, b) => b.localeCompare(a)));
  all.push(membership);
  // One chain in the spec's order: each member target after the previous member's promotion. Joiners are
  // then added one at a time, each after the one before has started, caught up and been promoted; in a
  // fresh cluster the units start with --no-block and nothing is promoted, so the chain costs nothing. The
  // same dependencies whichever way a member starts, so a member that joined is not rebuilt when the next
  // run sees it recorded.
  let previous: AnyTarget | undefined;
  const promotions: Record<string, AnyTarget> = {};
  for (const member of members) {
    const node = member.name;
    const nt = nodeTarget(ctx, node);
    const file = (id: string, path: string, description: string, source: Parameters<typeof fileTarget>[0]['source'], mode?: number, after?: Record<string, AnyTarget>) =>
      fileTarget({ node, nodeTarget: nt, id, path, description, source, ...(mode ? { mode } : {}), ...(after ? { after } : {}) });
    const files = {
      ca: file('etcd-ca', etcdPaths.ca, `etcd CA cert on ${node}`, certSource(ctx, 'etcd-ca', 'cert')),
      serverCert: file('etcd-server-cert', etcdPaths.serverCert, `etcd server cert of ${node}`, certSource(ctx, `etcd-server:${node}`, 'cert')),
      serverKey: file('etcd-server-key', etcdPaths.serverKey, `etcd server key of ${node}`, certSource(ctx, `etcd-server:${node}`, 'key'), 0o600),
      peerCert: file('etcd-peer-cert', etcdPaths.peerCert, `etcd peer cert of ${node}`, certSource(ctx, `etcd-peer:${node}`, 'cert')),
      peerKey: file('etcd-peer-key', etcdPaths.peerKey, `etcd peer key of ${node}`, certSource(ctx, `etcd-peer:${node}`, 'key'), 0o600),
      // After the binary it runs: a cluster made before ran /usr/bin/etcd, and a node restarted between
      // the two installs would otherwise start a unit whose binary is not there yet.
      unit: file('etcd-unit', unitPath('etcd'), `etcd unit on ${node}`, { text: renderEtcdUnit({ member, clusterToken: `${ctx.config.clusterName}-etcd` }) }, undefined, installs[node]!),
      ...installs[node]!,
    };
    // Whom a joiner asks to add it: the running members (those staying first), then the other configured ones.
    const peers = [...new Set([...running.filter((r) => r.name !== node).map((r) => r.container), ...members.filter((m) => m !== member).map((m) => nodeContainerName(ctx.config, m.name))])];
    // After its own files: the member is added right before its unit starts (ordering only: their results
    // change only when the files do, and then the member target's idempotent build only rewrites its file).
    const after: Record<string, AnyTarget> = { membership, ...(previous ? { previous } : {}), ...Object.fromEntries(Object.entries(files).map(([k, t]) => [`file:${k}`, t])) };
    const mode: MemberMode = fresh ? { bootstrap: members } : { join: peers };
    const memberTarget = etcdMemberTarget({ member, node: nt, mode, token: `${ctx.config.clusterName}-etcd`, after });
    // --no-block: a fresh cluster's first member only reports started once a quorum exists, and a learner's
    // start is waited for by its promotion, which needs it caught up anyway.
    // Only for a member that ran before: a joiner has no apiserver to drain yet, and as a learner it would
    // not pass the health check this waits for (its promotion comes after its start).
    const ranBefore = running.some((r) => r.name === node);
    const aroundRestart = !ranBefore || !ctx.endpoint || members.length < 2 ? undefined : drainApiserverAround(ctx, member);
    const unit = unitTarget({ node, nodeTarget: nt, unit: 'etcd', description: `etcd member on ${node}`, files, after: { member: memberTarget }, noBlock: true, ...(aroundRestart ? { aroundRestart } : {}) });
    const promote = etcdPromoteTarget({ member, node: nt, mode, unit });
    units[node] = unit;
    promotions[`promote:${node}`] = promote;
    previous = promote;
    all.push(...Object.values(files), memberTarget, unit, promote);
  }
  const healthy = target({
    name: 'cluster:etcd-healthy',
    description: 'Every etcd member answers `etcdctl endpoint health` over TLS',
    // Ordered after every promotion too: a learner serves no client, so no apiserver may start on one.
    deps: { ...units, ...promotions } as Record<string, UnitTarget>,
    build: async (bctx) => {
      for (const member of members) {
        const unit = bctx.deps[member.name];
        if (!unit) throw new Error(`cluster: etcd-healthy has no unit of ${member.name}`);
        await waitEtcdHealthy(nodeFleet.of(bctx).node(unit.container), member.name, bctx.signal, bctx.log);
      }
      // The same whatever the members: every apiserver is ordered after this check, and a result naming the
      // members would restart all of them at once when one is added or removed.
      return null;
    },
  });
  all.push(healthy);
  return { units, healthy, membership, running, leaving, binaries: Object.fromEntries(Object.entries(installs).map(([node, i]) => [node, i.etcd])), all };
}

/**
 * Around a running member's restart (a new binary, a renewed certificate): the apiserver beside it talks to
 * this member only, and a request HAProxy sends it while etcd restarts waits or fails until two failed
 * health checks mark it down. So it leaves the API endpoint first and comes back once the member is healthy
 * and the apiserver ready (restartOutOfEndpoint). Only where another apiserver serves meanwhile: a running
 * cluster of two or more control planes behind an endpoint, and a member that ran before (not one joining now).
 */
function drainApiserverAround(ctx: ClusterContext, member: EtcdMember): NonNullable<Parameters<typeof unitTarget>[0]['aroundRestart']> {
  return async (restart, node, actx) => {
    // A node recreated since it ran etcd has no data: its member joins again as a learner, which serves
    // neither the health check nor its apiserver until its promotion, after this restart.
    const hasData = (await node.exec(['test', '-d', `${etcdPaths.dataDir}/member`], { allowFailure: true, readOnly: true })).exitCode === 0;
    if (!hasData) return restart();
    // A leader that restarts leaves the others without one for an election timeout, and requests in flight
    // fail with `etcdserver: leader changed`: hand the leadership to a member that stays up first.
    await handLeadershipAway(node, member, actx.log);
    await restartOutOfEndpoint(ctx, member, 'its etcd member restarts', async () => {
      await restart();
      await waitEtcdHealthy(node, member.name, actx.signal, actx.log);
    }, node, actx);
  };
}

/** When `member` (asked on its own node) leads etcd, moves the leadership to another started voting member. */
async function handLeadershipAway(node: NodeHandle, member: EtcdMember, log: (line: string) => void): Promise<void> {
  const status = await node.exec([...etcdctlArgs(), 'endpoint', 'status', '-w', 'json'], { allowFailure: true, readOnly: true }).catch(() => undefined);
  if (status?.exitCode !== 0 || !statusSaysLeader(status.stdout.toString('utf8'))) return;
  const read = await readMembership([node], false);
  const to = read?.list.find((m) => m.started && !m.learner && !m.peerUrls.includes(etcdPeerUrl(member.ip)));
  if (!read || !to) return;
  log(`${member.name} is the etcd leader: etcdctl move-leader ${to.id} (${to.name}) before it restarts`);
  // Not moved (the other member not caught up in time, say): the restart costs an election, as without this.
  await etcdctlOn(node, ['move-leader', to.id]).catch((error: Error) => log(`the leadership stayed on ${member.name} (${error.message}); restarting it anyway`));
}

/** How the fleet reaches a configured node before its target has run: its container's name, or a machine's address. */
function nodeContainerName(config: ClusterConfig, node: string): string {
  const machine = config.machines?.find((m) => m.name === node);
  return machine ? machineAddress(machine) : containerName(config.clusterName, node);
}

type MemberMode = { bootstrap: EtcdMember[] } | { join: string[] };

/**
 * `etcd:<node>:member`: how this member first starts, written to its bootstrap environment file before the
 * unit starts. In a fresh cluster: state `new` with every member. Joining a running cluster: `member add`
 * on a running member unless it is listed already (by its peer URL), then state `existing` with the
 * listed members and itself. The mode is not in the key on purpose: once a member has started, its mode
 * no longer matters (etcd reads the file only with an empty data directory), so the next run, which sees
 * the member recorded, must not rebuild it. Its result is the same whichever way it joined.
 */
function etcdMemberTarget(spec: { member: EtcdMember; node: ClusterContext['nodes'][string]; mode: MemberMode; token: string; after: Record<string, AnyTarget> }) {
  const { member } = spec;
  const deps: { node: typeof spec.node; [after: `after:${string}`]: AnyTarget } = { node: spec.node };
  for (const [alias, t] of Object.entries(spec.after)) deps[`after:${alias}`] = t;
  const joins = 'join' in spec.mode;
  return target({
    name: `etcd:${member.name}:member`,
    description: joins
      ? `Adds ${member.name} to the running etcd cluster as a learner (etcdctl member add --learner on a running member; fine if listed by its peer URL), then its first start uses --initial-cluster-state=existing`
      : `${member.name} starts with the new etcd cluster (--initial-cluster-state=new, every member)`,
    deps,
    inputs: { values: { name: member.name, peerUrl: etcdPeerUrl(member.ip), token: spec.token } },
    build: async (ctx) => {
      const fleet = nodeFleet.of(ctx);
      const self = fleet.node(ctx.deps.node.container);
      const result = { node: member.name, container: ctx.deps.node.container, peerUrl: etcdPeerUrl(member.ip) };
      const mode = spec.mode;
      if ('bootstrap' in mode || mode.join.length === 0) {
        // No other member to join (a one-member cluster whose only node was recreated starts anew, as before).
        const initialCluster = 'bootstrap' in mode ? mode.bootstrap : [member];
        await self.putFile(etcdPaths.bootstrapEnv, renderEtcdBootstrapEnv({ state: 'new', initialCluster }), 0o644);
        return result;
      }
      const read = await readMembership(mode.join.map((c) => fleet.node(c)), false);
      if (!read) {
        throw new ClusterError(
          `${member.name} cannot join etcd: no running member answers \`etcdctl member list\` (asked ${mode.join.join(', ')})`,
          `start the control planes that ran etcd (\`npx tsx tasks.ts cluster\` with the spec that made them), then run again`,
        );
      }
      let list = read.list;
      const listed = findMember(list, member);
      const hasData = (await self.exec(['test', '-d', `${etcdPaths.dataDir}/member`], { allowFailure: true, readOnly: true })).exitCode === 0;
      if (listed?.started && !hasData) {
        // Its node was recreated: the member etcd knows has lost its data, and restarting it under the same
        // ID would fail Raft's log check. It leaves and joins again as a new member.
        ctx.log(`${member.name} is a started member (${listed.id}) whose data directory is gone: removing it, then adding it again`);
        await etcdctlOn(read.peer, ['member', 'remove', listed.id]);
        list = list.filter((m) => m !== listed);
      }
      if (!findMember(list, member)) {
        ctx.log(`etcdctl member add ${member.name} --peer-urls=${etcdPeerUrl(member.ip)} --learner on ${read.peer.name}`);
        await etcdctlOn(read.peer, ['member', 'add', member.name, `--peer-urls=${etcdPeerUrl(member.ip)}`, '--learner'], undefined, ctx.signal);
        list = parseMemberList((await etcdctlOn(read.peer, ['member', 'list'])).stdout.toString('utf8'));
      } else if (!hasData) {
        ctx.log(`${member.name} is listed already (${findMember(list, member)!.id}, ${findMember(list, member)!.started ? 'started' : 'not started yet'})`);
      }
      const initialCluster = joiningInitialCluster(list, member);
      await self.putFile(etcdPaths.bootstrapEnv, renderEtcdBootstrapEnv({ state: 'existing', initialCluster }), 0o644);
      return result;
    },
  });
}

/**
 * `etcd:<node>:promote`: a member that joined as a learner becomes a voting member once etcd says it has
 * caught up (`member promote` is refused before that: retried, bounded). Nothing to do for a voting member,
 * or in a fresh cluster. Its result is the same either way (ordering for the next joiner and the apiservers).
 */
function etcdPromoteTarget(spec: { member: EtcdMember; node: ClusterContext['nodes'][string]; mode: MemberMode; unit: UnitTarget }) {
  const { member } = spec;
  return target({
    name: `etcd:${member.name}:promote`,
    description: 'join' in spec.mode ? `Promotes ${member.name} from learner to voting etcd member once it has caught up (etcdctl member promote)` : `Nothing to promote: ${member.name} starts as a voting member of the new etcd cluster`,
    deps: { node: spec.node, 'after:unit': spec.unit },
    inputs: { values: { name: member.name, peerUrl: etcdPeerUrl(member.ip) } },
    build: async (ctx) => {
      const result = { node: member.name, peerUrl: etcdPeerUrl(member.ip) };
      const mode = spec.mode;
      if ('bootstrap' in mode || mode.join.length === 0) return result;
      const fleet = nodeFleet.of(ctx);
      // Asked of the running members first: a learner serves few requests of its own.
      const peers = [...mode.join, ctx.deps.node.container].map((c) => fleet.node(c));
      const deadline = performance.now() + 180_000;
      let last = '';
      while (performance.now() < deadline) {
        const read = await readMembership(peers, false);
        const listed = read && findMember(read.list, member);
        if (read && !listed) throw new ClusterError(`${member.name} is not an etcd member: nothing to promote`, 'run again: its member target adds it');
        if (listed && !listed.learner) return result;
        if (read && listed?.started) {
          const res = await read.peer.exec([...etcdctlArgs(), 'member', 'promote', listed.id], { allowFailure: true });
          if (res.exitCode === 0) {
            ctx.log(`etcdctl member promote ${listed.id} (${member.name}) on ${read.peer.name}`);
            return result;
          }
          last = `${res.stderr.toString('utf8')}${res.stdout.toString('utf8')}`.trim().split('\n').slice(-1)[0] ?? '';
        } else last = read ? `${member.name} has not started yet` : 'no member answers';
        await sleep(1000, ctx.signal);
      }
      throw new NotReadyError(`${member.name} is still an etcd learner after 180 s: ${last}`, `docker exec ${ctx.deps.node.container} journalctl -u etcd -n 100`);
    },
  });
}

/**
 * etcd refuses a membership change with `etcdserver: unhealthy cluster` until the member asked has been
 * connected to every voting member for 5 s (its HealthInterval: `mayAddMember`, `mayRemoveMember`), as
 * right after a member started or was promoted. That passes by itself: the change is asked again, bounded.
 */
export async function etcdctlOn(peer: NodeHandle, args: string[], endpoint?: string, signal?: AbortSignal, retry = { forMs: 30_000, everyMs: 1000 }) {
  const deadline = performance.now() + retry.forMs;
  let res = await peer.exec([...etcdctlArgs(endpoint), ...args], { allowFailure: true });
  while (res.exitCode !== 0 && args[0] === 'member' && /etcdserver: unhealthy cluster/.test(res.stderr.toString('utf8')) && performance.now() < deadline) {
    await sleep(retry.everyMs, signal);
    res = await peer.exec([...etcdctlArgs(endpoint), ...args], { allowFailure: true });
  }
  if (res.exitCode !== 0) {
    const said = `${res.stderr.toString('utf8')}${res.stdout.toString('utf8')}`.trim().split('\n').slice(-3).join(' | ');
    throw new ClusterError(`etcdctl ${args.join(' ')} on ${peer.name} failed (exit ${res.exitCode}): ${said}`, `see \`docker exec ${peer.name} ${etcdctlArgs().join(' ')} member list\``);
  }
  return res;
}

/**
 * `etcd:membership`: before a membership change touches anything, reads the running cluster (member list,
 * every member's health) and refuses a change that would lose quorum, naming the members; also refuses a
 * control plane whose planned address moved (its member's peer URL would no longer be its own). Its key is
 * the configured members, so it runs exactly when they change; its result is null, so what depends on it
 * (every member target, the API endpoint's config, every removal) is ordered after it and never rebuilt by it.
 */
function membershipCheckTarget(config: ClusterConfig, members: EtcdMember[], running: RecordedControlPlane[], adding: string[], removing: string[]) {
  const change = [adding.length ? `adding ${adding.join(', ')}` : '', removing.length ? `removing ${removing.join(', ')}` : ''].filter(Boolean).join(', ');
  return target({
    name: 'etcd:membership',
    description: change
      ? `Checks that etcd keeps its quorum through ${change}, before anything changes (refuses the change otherwise)`
      : 'Checks a change of the control planes against the running etcd cluster before anything changes (refuses one that would lose quorum)',
    deps: {},
    inputs: { values: { members: members.map((m) => [m.name, m.ip]) } },
    build: async (ctx): Promise<null> => {
      if (!change) return null;
      const refuse = (what: string, hint: string): never => {
        throw new MembershipRefusedError(`the spec changes the control planes (${change}), refused before anything changed: ${what}`, hint);
      };
      for (const r of running) {
        const planned = members.find((m) => m.name === r.name);
        if (planned && planned.ip !== r.ip) {
          refuse(`${r.name}'s planned address moves from ${r.ip} to ${planned.ip} (control planes are numbered in the spec's order from controlPlaneIpStart), and etcd knows the member by its address`, `keep the remaining control planes in their places: remove the last ones from the spec, not the first`);
        }
      }
      const kept = running.filter((r) => members.some((m) => m.name === r.name));
      const peers = [...kept, ...running.filter((r) => !kept.includes(r))].map((r) => nodeFleet.of(ctx).node(r.container));
      const read = await readMembership(peers, true);
      if (!read) refuse(`no etcd member answers (asked ${running.map((r) => r.container).join(', ')})`, `run \`npx tsx tasks.ts cluster\` with the spec that made the cluster first, so it is running`);
      const state = read!.state;
      ctx.log(`etcd members: ${state.members.map((m) => `${m.name} (${m.healthy ? 'healthy' : 'not healthy'})`).join(', ')}`);
      const problem = quorumProblem(state, { adding, removing });
      if (problem) {
        const down = state.members.filter((m) => !m.healthy).map((m) => m.name);
        refuse(
          problem,
          down.length
            ? `bring ${down.join(', ')} back first (\`npx tsx tasks.ts cluster\` with the current spec repairs a stopped member), or take ${down.length > 1 ? 'them' : 'it'} out of the spec as well; then run again`
            : 'keep more control planes in the spec',
        );
      }
      return null;
    },
  });
}

async function waitEtcdHealthy(host: NodeHandle, node: string, signal: AbortSignal, log: (m: string) => void, timeoutMs = 120_000): Promise<void> {
  const container = host.name;
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    const res = await host.exec([...etcdctlArgs(), 'endpoint', 'health'], { allowFailure: true, readOnly: true });
    last = `${res.stdout.toString('utf8')}${res.stderr.toString('utf8')}`.trim();
    if (res.exitCode === 0) {
      log(`${node}: ${last.split('\n')[0]}`);
      return;
    }
    await sleep(1000, signal);
  }
  const journal = await journalTail(host, 'etcd.service');
  throw new NotReadyError(
    `${node}: etcd is not healthy after ${timeoutMs / 1000} s: ${last.split('\n').slice(-3).join(' | ')}\netcd's last journal lines:\n${journal}`,
    `docker exec ${container} journalctl -u etcd -n 100`,
  );
}


export type MemberRemoveSpec = {
  /** The control plane leaving (no longer in the spec), with its recorded address and container. */
  name: string;
  ip: string;
  container: string;
  /** The configured control planes' node targets: the members that stay, asked to remove it. */
  survivors: AnyTarget[];
  /** Ordering only: the membership check, the endpoint's config without it, etcd healthy after any joins, the removal before it. */
  after: Record<string, AnyTarget>;
};

/**
 * `etcd:<node>:member-remove`, for a control plane that left the spec: stops its apiserver, controller-manager
 * and scheduler (the API endpoint's config without it is already running, so no new request reaches it; a
 * stopping apiserver takes its own address out of the `kubernetes` Service while its etcd still works),
 * then `etcdctl member remove <id>` on a member that stays (looked up by peer URL or name; not listed is
 * fine), re-checking quorum first, then stops its etcd. The node itself goes next (`remove:node:<node>`).
 */
export function etcdMemberRemoveTarget(spec: MemberRemoveSpec) {
  const member: EtcdMember = { name: spec.name, ip: spec.ip };
  const name = `etcd:${spec.name}:member-remove`;
  const deps: Record<string, AnyTarget> = {};
  spec.survivors.forEach((t, i) => (deps[`peer:${i}`] = t));
  for (const [alias, t] of Object.entries(spec.after)) deps[`after:${alias}`] = t;
  return target({
    name,
    description: `Removes control plane ${spec.name} from etcd (its apiserver stopped first, already out of the API endpoint; etcdctl member remove on a member that stays), before its node goes`,
    deps,
    inputs: { values: { name: spec.name, peerUrl: etcdPeerUrl(spec.ip), container: spec.container } },
    destructive: `etcd member ${spec.name} (control plane ${spec.container})`,
    build: async (ctx): Promise<{ removed: string }> => {
      const fleet = nodeFleet.of(ctx);
      const leaving = fleet.node(spec.container);
      const onLeaving = (argv: string[]) => leaving.exec(argv, { allowFailure: true }).catch(() => ({ exitCode: -1 }));
      const stopped = await onLeaving(['systemctl', 'stop', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler']);
      ctx.log(stopped.exitCode === 0 ? `stopped kube-apiserver, kube-controller-manager, kube-scheduler on ${spec.name}` : `${spec.container} does not answer: nothing to stop there`);
      const survivors = Object.entries(ctx.deps)
        .filter(([alias]) => alias.startsWith('peer:'))
        .map(([, r]) => r as NodeContainer);
      const staying = survivors.map((r) => r.name);
      const peers = survivors.map((r) => fleet.node(r.container));
      const read = await readMembership(peers, true);
      if (!read) throw new ClusterError(`cannot remove ${spec.name} from etcd: no member that stays answers (asked ${peers.map((p) => p.name).join(', ')})`, 'start the control planes in the spec, then run again');
      const listed = findMember(read.list, member);
      if (!listed) ctx.log(`${spec.name} is not an etcd member (any more)`);
      else {
        const problem = listed.learner ? undefined : quorumProblem(read.state, { adding: [], removing: [memberLabel(listed)] });
        if (problem) throw new MembershipRefusedError(`not removing ${spec.name} from etcd: ${problem}`, 'bring the unhealthy members back first, then run again');
        // A leader that is removed steps down and the others wait an election timeout before electing
        // one: move the leadership to a member that stays first, so writes never pause.
        const leavingUrl = listed.clientUrls[0];
        const status = leavingUrl ? await read.peer.exec([...etcdctlArgs(leavingUrl), 'endpoint', 'status', '-w', 'json'], { allowFailure: true, readOnly: true }) : undefined;
        const to = read.list.find((m) => m !== listed && m.started && staying.includes(m.name));
        if (status?.exitCode === 0 && statusSaysLeader(status.stdout.toString('utf8')) && to && leavingUrl) {
          ctx.log(`${spec.name} is the etcd leader: etcdctl move-leader ${to.id} (${to.name})`);
          await etcdctlOn(read.peer, ['move-leader', to.id], leavingUrl);
        }
        ctx.log(`etcdctl member remove ${listed.id} (${spec.name}) on ${read.peer.name}`);
        await etcdctlOn(read.peer, ['member', 'remove', listed.id], undefined, ctx.signal);
      }
      // A removed member stops by itself; stop the unit too, so systemd does not restart it until the node goes.
      await onLeaving(['systemctl', 'stop', 'etcd']);
      ctx.forget?.([name]);
      return { removed: spec.name };
    },
  });
}
