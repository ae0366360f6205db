// etcd membership on a running cluster, the pure part: reading `etcdctl member list` and `endpoint health`,
// quorum arithmetic, and the checks that refuse a change which would lose quorum. The targets that act on
// it (member add, member remove, the check before anything changes) are in etcd.ts and control-plane-removal.ts.
//
// The rules etcd sets (https://etcd.io/docs/v3.4/op-guide/runtime-configuration/): a member is added with
// `member add` before it starts, and then starts with --initial-cluster-state=existing and an initial
// cluster naming the members at that time plus itself; etcd accepts no second member while one added is
// still unstarted (so additions go one at a time, each started before the next); a member is removed
// with `member remove <id>` before it is stopped. Every change is a Raft proposal: it needs a quorum,
// ⌊n/2⌋+1 of the n voting members, healthy, and so does the cluster after the change.
//
// A member is added as a learner (`member add --learner`, as kubeadm does): a learner receives the log but
// does not vote, so the quorum stays what it was until `member promote`, which etcd accepts only once the
// learner has caught up. Added as a voter instead, a second member makes the quorum two before it has
// started: the one running member alone cannot commit, and the API stops answering until the newcomer is up
// (measured here: 40 s of failed requests on a loaded machine).

import { etcdPeerUrl, type EtcdMember } from './render/etcd.ts';

/** One line of `etcdctl member list` (simple format: `ID, status, name, peer URLs, client URLs, is learner`). */
export type ListedMember = { id: string; started: boolean; name: string; peerUrls: string[]; clientUrls: string[]; learner: boolean };

/** Parses `etcdctl member list` (etcd 3.4's default output); lines that are not members are skipped. */
export function parseMemberList(text: string): ListedMember[] {
  const members: ListedMember[] = [];
  for (const line of text.split('\n')) {
    // URLs never contain ", " while the fields are separated by it; several URLs of one field are joined by ",".
    const fields = line.trim().split(', ');
    if (fields.length < 6 || !/^[0-9a-f]+$/.test(fields[0]!)) continue;
    const urls = (field: string) => field.split(',').map((u) => u.trim()).filter(Boolean);
    members.push({ id: fields[0]!, started: fields[1] === 'started', name: fields[2]!, peerUrls: urls(fields[3]!), clientUrls: urls(fields[4]!), learner: fields[5] === 'true' });
  }
  return members;
}

/** The client URLs `etcdctl endpoint health` called healthy (it prints one line per endpoint, on stdout or stderr). */
export function healthyEndpoints(output: string): Set<string> {
  const healthy = new Set<string>();
  for (const m of output.matchAll(/^(\S+) is healthy\b/gm)) healthy.add(m[1]!);
  return healthy;
}

/**
 * Whether `etcdctl endpoint status -w json` says the endpoint it asked is the leader: its `leader` is its
 * own `member_id`. JSON, because the simple format's columns differ between etcd minors (3.6 added the
 * storage version and the size in use); the IDs are compared as digits, since they are 64-bit and lose
 * precision as JavaScript numbers.
 */
export function statusSaysLeader(output: string): boolean {
  const self = /"member_id":(\d+)/.exec(output)?.[1];
  const leader = /"leader":(\d+)/.exec(output)?.[1];
  return self !== undefined && self === leader;
}

/** How many of `n` members must be healthy for the cluster to accept writes and membership changes. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** The listed member that is `member` (by peer URL, which `member add` registers before the name is known), if any. */
export function findMember(list: readonly ListedMember[], member: EtcdMember): ListedMember | undefined {
  const peer = etcdPeerUrl(member.ip);
  return list.find((m) => m.peerUrls.includes(peer)) ?? list.find((m) => m.name === member.name);
}

/**
 * The initial cluster a member joining a running cluster starts with: every listed member by name and
 * peer URL, and itself (listed unstarted, without a name, until it has started once).
 */
export function joiningInitialCluster(list: readonly ListedMember[], self: EtcdMember): EtcdMember[] {
  const others = list
    .filter((m) => m !== findMember(list, self))
    .map((m) => ({ name: m.name, ip: hostOf(m.peerUrls[0] ?? '') }))
    .filter((m) => m.name !== '' && m.ip !== '');
  return [...others, self];
}

function hostOf(url: string): string {
  return /^https?:\/\/([^:/]+)/.exec(url)?.[1] ?? '';
}

/** What the cluster looks like now: its members, by name, and which of them answer as healthy. */
export type MembershipState = { members: { name: string; healthy: boolean }[] };

/** How messages name a listed member: its name, or its peer URL while it has not started. */
export function memberLabel(m: ListedMember): string {
  return m.name || `(unstarted ${m.peerUrls[0] ?? m.id})`;
}

/** The state from a member list and an `endpoint health` output over every member's client URL. */
export function membershipState(list: readonly ListedMember[], healthOutput: string): MembershipState {
  const healthy = healthyEndpoints(healthOutput);
  // Learners do not vote: they count for no quorum.
  return { members: list.filter((m) => !m.learner).map((m) => ({ name: memberLabel(m), healthy: m.started && m.clientUrls.some((u) => healthy.has(u)) })) };
}

/** Members by name, in name order (etcd lists them by ID): messages read the same on every run. */
const names = (list: readonly { name: string }[]) => (list.length ? list.map((m) => m.name).sort((a, b) => a.localeCompare(b)).join(', ') : 'none');

/**
 * Why this change cannot be made without losing quorum, or undefined when it can: first the cluster as
 * it is must have a quorum (every change is a proposal), then after each removal, in the order given, the
 * members left must have a healthy quorum (members being added count once started: their joins run
 * first, one at a time, each waited for). One sentence naming the members, for the refusal message.
 */
export function quorumProblem(state: MembershipState, change: { adding: readonly string[]; removing: readonly string[] }): string | undefined {
  const healthy = state.members.filter((m) => m.healthy);
  const unhealthy = state.members.filter((m) => !m.healthy);
  if (healthy.length < quorum(state.members.length)) {
    return `etcd has no quorum now: ${healthy.length} of its ${state.members.length} members are healthy (${names(healthy)}; not: ${names(unhealthy)}), and ${quorum(state.members.length)} are needed for any change`;
  }
  let members = [...state.members.map((m) => ({ ...m })), ...change.adding.filter((a) => !state.members.some((m) => m.name === a)).map((name) => ({ name, healthy: true }))];
  for (const leaving of change.removing) {
    members = members.filter((m) => m.name !== leaving);
    const left = members.filter((m) => m.healthy);
    if (members.length === 0) return `removing ${leaving} would leave etcd with no member`;
    if (left.length < quorum(members.length)) {
      const down = members.filter((m) => !m.healthy);
      return `removing ${leaving} would leave ${members.length} member${members.length === 1 ? '' : 's'} (${names(members)}) of which ${left.length} ${left.length === 1 ? 'is' : 'are'} healthy (not: ${names(down)}), and ${members.length} members need ${quorum(members.length)}`;
    }
  }
  return undefined;
}
