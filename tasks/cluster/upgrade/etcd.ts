// Which etcd each control plane runs, and whether the spec's etcd may follow. etcd's own rule
// (https://etcd.io/docs/v3.6/upgrades/): a cluster moves one minor at a time, one member at a time, and
// never back across a minor (that takes etcd's downgrade API, which this project does not drive). The
// members restart one by one anyway (tasks/cluster/rollout.ts: each healthy before the next), and every
// apiserver waits for all of them (cluster:etcd-healthy), as kubeadm upgrades etcd before the apiserver.

import { field, recordedVersionOf, type Records } from './running.ts';
import { compareReleases, parseRelease, type Release } from './skew.ts';
import { KUBEADM_IMAGE_VERSIONS } from '../../images/image-versions.ts';

/**
 * What a control plane recorded with an etcd unit and no `install:<node>:etcd` runs: clusters made
 * before etcd was built from its module ran Debian bookworm's etcd-server package, 3.4.23.
 */
export const DEBIAN_ETCD_VERSION = 'v3.4.23';

/** The etcd version of each control plane whose etcd unit the records know (none asked; unknown ones left out). */
export function runningEtcd(records: Records & { names(): string[] }, cacheRoot?: string): Record<string, string> {
  const running: Record<string, string> = {};
  const versionOf = recordedVersionOf(records, cacheRoot, () => 'bin:etcd:etcd');
  for (const name of records.names()) {
    const node = /^unit:([^:]+):etcd$/.exec(name)?.[1];
    if (!node) continue;
    const installed = records.result(`install:${node}:etcd`);
    if (installed === undefined) {
      running[node] = DEBIAN_ETCD_VERSION;
      continue;
    }
    const sha256 = field(installed, 'sha256');
    const version = sha256 ? versionOf('etcd', sha256) : undefined;
    if (version) running[node] = version;
  }
  return running;
}

const show = (r: Release): string => `v${r.major}.${r.minor}.${r.patch}`;

/**
 * Why moving members running `running` to etcd `wanted` is refused (what is wrong, what to do), or
 * undefined: nothing runs yet, a patch change, or one minor up (from a cluster caught half-way: only to
 * the newest minor it runs).
 */
export function etcdSkewRefusal(running: readonly string[], wanted: string): { problem: string; valid: string } | undefined {
  const want = parseRelease(wanted);
  const have = running.map(parseRelease).filter((r): r is Release => r !== undefined).sort(compareReleases);
  if (!want || have.length === 0) return undefined;
  const oldest = have[0]!;
  const newest = have[have.length - 1]!;
  const runs = show(oldest) === show(newest) ? `the control planes run etcd ${show(oldest)}` : `the control planes run etcd ${show(oldest)} to ${show(newest)} (an upgrade left half-way)`;
  const next = `v${oldest.major}.${oldest.minor + 1}`;
  // A release of that minor this project builds for some Kubernetes minor, else its first patch.
  const step = Object.values(KUBEADM_IMAGE_VERSIONS).map((row) => row.etcd).find((v) => v.startsWith(`${next}.`)) ?? `${next}.0`;
  if (want.major !== oldest.major || want.major !== newest.major) return { problem: `etcd ${wanted} changes the major version: ${runs}`, valid: 'etcd upgrades one minor at a time within v3' };
  if (want.minor > oldest.minor + 1) {
    return {
      problem: `etcd ${wanted} skips ${next}: ${runs}`,
      valid: `etcd upgrades one minor at a time: first set "etcdVersion": "${step}" in the spec and run cluster, then set it back to "auto" and run again`,
    };
  }
  if (want.minor < newest.minor) return { problem: `etcd ${wanted} is a downgrade across minors: ${runs}`, valid: `use a ${`v${newest.major}.${newest.minor}`} release (etcd's downgrade API is not driven here)` };
  return undefined;
}

/** The plan's etcd line, or none when every member already runs `wanted`. */
export function etcdPlanLines(running: Record<string, string>, wanted: string, order: readonly string[]): string[] {
  const moving = order.filter((node) => running[node] !== undefined && running[node] !== wanted);
  if (moving.length === 0) return [];
  const froms = [...new Set(moving.map((node) => running[node]!))].sort();
  return [`upgrade: etcd ${froms.join(', ')} → ${wanted}, one member at a time, each healthy before the next and before any apiserver restarts: ${moving.join(', ')}`];
}
