// The `logs` bundle against recording fake nodes (lib/node/fake.ts), a recorded kubectl and a Docker
// source: the file layout and contents, a node whose commands fail and one that is stopped, a dead
// apiserver, the MISSING summary, the per-item time limit and the bound on items at once, and that
// every node command only reads.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DockerError } from '../../lib/docker/errors.ts';
import { CommandError } from '../../lib/errors.ts';
import type { ExecOptions, ExecResult } from '../../lib/node/handle.ts';
import { FakeNode } from '../../lib/node/fake.ts';
import type { Kubectl } from '../../tasks/cluster/kubectl.ts';
import { bundleReport, writeBundle, type Bundle } from '../../tasks/logs/bundle.ts';
import { clusterItems, dockerItems, nodeItems, runLogItem, type DockerSource, type NodeSource } from '../../tasks/logs/sources.ts';
import type { Item } from '../../tasks/logs/collect.ts';
import { logsHint } from '../../tasks/logs/hint.ts';
import { projectTargets } from '../../tasks/index.ts';
import { defaultConfig } from '../../tasks/config/config.ts';
import { nodeReadsOf } from '../../lib/node/fleet.ts';

const out = (stdout: string, exitCode = 0, stderr = ''): ExecResult => ({ stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), exitCode });

const PODS_DIR = '/var/log/pods/kube-system_coredns-abc_1234';

/** A node that answers the commands a bundle runs, each with text naming the node and the command. */
function healthyNode(name: string, units: Record<string, string[]>): FakeNode {
  const node = new FakeNode(name);
  for (const [unit, journal] of Object.entries(units)) node.units.set(unit, { active: 'active', sub: 'running', enabled: 'enabled', job: false, journal });
  node.onExec = (argv) => {
    const line = argv.join(' ');
    if (line === 'systemctl is-system-running') return out('running\n');
    if (line.startsWith('systemctl list-units')) return out(`${Object.keys(units).map((u) => `${u}.service loaded active running`).join('\n')}\n`);
    if (argv[0] === 'systemctl' && argv[1] === 'status') return out(`● ${argv.filter((a) => a.endsWith('.service')).join('\n● ')}\n`, 3);
    if (line === 'ip addr') return out(`2: eth0 inet 10.9.0.${name.length}/24 (${name})\n`);
    if (line === 'ip route') return out(`default via 10.9.0.1 dev eth0 (${name})\n`);
    if (line === 'iptables-save') return out(`*nat\n:KUBE-SERVICES - [0:0]\n# ${name}\nCOMMIT\n`);
    if (line === 'sh -c command -v crictl') return out('/usr/local/bin/crictl\n');
    if (argv[0] === 'crictl') return out(`${argv.at(-2) === 'ps' || argv.includes('ps') ? 'CONTAINER IMAGE NAME' : 'POD ID NAME'} on ${name}\n`);
    if (argv[0] === 'ctr') return out(`${argv.slice(3).join(' ')} on ${name}\n`);
    if (argv[0] === 'find' && argv[1] === '/var/log/pods') return out(`${PODS_DIR}/coredns/0.log\n${PODS_DIR}/coredns/1.log\n`);
    if (argv[0] === 'tail') return out(`log of ${argv.at(-1)} on ${name}\n`);
    return undefined;
  };
  return node;
}

/** A node whose container is stopped: every exec fails as the Docker transport's does. */
class StoppedNode extends FakeNode {
  override async exec(argv: string[]): Promise<ExecResult> {
    this.execs.push({ argv, readOnly: true, stdin: false });
    throw new DockerError(`${this.name}: container is not running (exec ${argv[0]})`, `start it with \`docker start ${this.name}\``);
  }
}

/** kubectl that records its calls and answers from a table; `down` makes every call fail as a refused connection. */
function fakeKubectl(down = false): Kubectl & { calls: string[][] } {
  const calls: string[][] = [];
  const run = (async (args: string[]) => {
    calls.push(args);
    const rest = args.filter((a) => !a.startsWith('--request-timeout='));
    if (down) throw new CommandError({ argv: ['kubectl', ...args], exitCode: 1, tail: ['Client Version: v1.34.4', 'The connection to the server 10.9.0.10:6443 was refused - did you specify the right host or port?'] });
    const line = rest.join(' ');
    if (line === 'get pods -A -o json') {
      const pod = (namespace: string, name: string, state: object) => ({ metadata: { namespace, name }, status: { containerStatuses: [{ state }] } });
      return { stdout: JSON.stringify({ items: [pod('kube-system', 'coredns-abc', { running: {} }), pod('demo', 'pulling', { waiting: { reason: 'ContainerCreating' } }), pod('demo', 'done', { terminated: { exitCode: 0 } })] }), stderr: '', exitCode: 0 };
    }
    return { stdout: `kubectl ${line} says hello`, stderr: '', exitCode: 0 };
  }) as Kubectl & { calls: string[][] };
  run.calls = calls;
  return run;
}

const dockerSource = (containers: Record<string, object>, extra: string[] = []): DockerSource => ({
  info: async () => ({ ServerVersion: '20.10.24', Containers: Object.keys(containers).length }),
  inspect: async (kind, name) => (kind === 'networks' ? (name === 'demo' ? { Name: 'demo' } : undefined) : containers[name]),
  containersLabelled: async () => [...Object.keys(containers), ...extra].sort(),
});

let dirs: string[] = [];
const scratch = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'harder-logs-'));
  dirs.push(dir);
  return dir;
};
test.after.each(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** Every file under dir, relative, sorted. */
function filesUnder(dir: string): string[] {
  const walk = (at: string): string[] => readdirSync(at, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(at, e.name)) : [relative(dir, join(at, e.name))]));
  return walk(dir).sort();
}

const controlPlane = (): FakeNode => healthyNode('controller-1', { etcd: ['etcd: serving client traffic'], 'kube-apiserver': ['apiserver: Serving securely on [::]:6443'] });
const worker = (name = 'worker-1'): FakeNode => healthyNode(name, { containerd: ['containerd successfully booted'], kubelet: [`Successfully registered node ${name}`] });
const source = (node: FakeNode, runtime: boolean): NodeSource => ({ name: node.name, handle: node, units: [...node.units.keys()], runtime });

async function bundle(items: Item[], outDir: string, opts: { jobs?: number; timeoutMs?: number } = {}): Promise<Bundle> {
  return writeBundle(items, { outDir, jobs: opts.jobs ?? 2, timeoutMs: opts.timeoutMs ?? 5000, title: 'test bundle', now: new Date('2026-12-02T03:04:05.678Z') });
}

test('a healthy cluster: every file in its place, with what each source answered; node commands only read', async () => {
  const outDir = scratch();
  const cp = controlPlane();
  const w1 = worker();
  const kubectl = fakeKubectl();
  const runLog = join(outDir, 'last-run.log');
  execFileSync('sh', ['-c', `printf '# npx tsx tasks.ts cluster\\n✓ node:worker-1\\n' > ${runLog}`]);
  const docker = dockerSource({ 'demo-controller-1': { Name: '/demo-controller-1' }, 'demo-worker-1': { Name: '/demo-worker-1' } });
  const items = [
    runLogItem(runLog),
    dockerItems(docker, { label: 'harder.cluster', name: 'demo', network: 'demo', containers: ['demo-controller-1', 'demo-worker-1'] }),
    clusterItems(kubectl),
    nodeItems(source(cp, false)),
    nodeItems(source(w1, true)),
  ];
  const b = await bundle(items, outDir);
  assert.is(b.dir, join(outDir, 'logs/2026-12-02T030405Z'));
  const node = (n: string, files: string[]) => files.map((f) => `nodes/${n}/${f}`);
  const common = ['ip-addr.txt', 'ip-route.txt', 'iptables-save.txt', 'system-state.txt', 'systemctl-status.txt', 'units.txt'];
  const expected = [
    'MISSING.txt',
    'SUMMARY.txt',
    'cluster/describe-nodes.txt',
    'cluster/events.txt',
    'cluster/get-all.txt',
    'cluster/nodes.txt',
    'cluster/pod-logs/demo/done.log',
    'cluster/pod-logs/kube-system/coredns-abc.log',
    'cluster/pods.json',
    'cluster/readyz.txt',
    'cluster/version.txt',
    'docker/containers.txt',
    'docker/info.json',
    'docker/inspect/demo-controller-1.json',
    'docker/inspect/demo-worker-1.json',
    'docker/network.json',
    'last-run.log',
    ...node('controller-1', [...common, 'journal/etcd.log', 'journal/kube-apiserver.log']),
    ...node('worker-1', [
      ...common,
      'crictl-pods.txt',
      'crictl-ps.txt',
      'ctr-containers.txt',
      'ctr-tasks.txt',
      'journal/containerd.log',
      'journal/kubelet.log',
      'pod-logs.txt',
      'pod-logs/kube-system_coredns-abc_1234/coredns/0.log',
      'pod-logs/kube-system_coredns-abc_1234/coredns/1.log',
    ]),
  ].sort();
  assert.equal(filesUnder(b.dir), expected);
  const read = (path: string) => readFileSync(join(b.dir, path), 'utf8');
  assert.is(read('nodes/worker-1/journal/kubelet.log'), 'Successfully registered node worker-1');
  assert.is(read('nodes/controller-1/journal/kube-apiserver.log'), 'apiserver: Serving securely on [::]:6443');
  assert.match(read('nodes/worker-1/iptables-save.txt'), ':KUBE-SERVICES - [0:0]\n# worker-1');
  // systemctl status exits 3 when a unit is not running: its output is still what the file is for.
  assert.is(read('nodes/worker-1/systemctl-status.txt'), '● containerd.service\n● kubelet.service\n');
  assert.is(read('nodes/worker-1/pod-logs/kube-system_coredns-abc_1234/coredns/1.log'), `log of ${PODS_DIR}/coredns/1.log on worker-1\n`);
  assert.is(read('cluster/get-all.txt'), 'kubectl get all -A -o wide says hello\n');
  assert.is(read('last-run.log'), '# npx tsx tasks.ts cluster\n✓ node:worker-1\n');
  assert.equal(JSON.parse(read('docker/inspect/demo-worker-1.json')), { Name: '/demo-worker-1' });
  assert.is(read('MISSING.txt'), 'Everything was collected.\n');
  // Every kubectl call carries a short request timeout; logs only for pods whose containers ran.
  assert.ok(kubectl.calls.every((args) => args[0] === '--request-timeout=5s'), JSON.stringify(kubectl.calls));
  assert.ok(kubectl.calls.some((args) => args.join(' ').includes('logs -n kube-system coredns-abc --all-containers')));
  assert.not.ok(kubectl.calls.some((args) => args.includes('pulling')), 'no log asked of a pod that never started');
  // Read-only: no write, no unit restart, every exec declared read-only.
  for (const n of [cp, w1]) {
    assert.equal(n.writes, [], `${n.name} was written to`);
    assert.equal(n.restarted, []);
    assert.equal(n.mutatingExecs(), [], `${n.name} ran commands not marked read-only`);
  }
  assert.equal(cp.execs.filter((e) => e.argv[0] === 'crictl' || e.argv[0] === 'ctr'), [], 'no runtime commands on a node without containerd');
  // The archive beside the folder holds the same files, under the folder's name (read by the host's tar).
  assert.is(b.tarball, `${b.dir}.tar.gz`);
  assert.is(statSync(b.tarball).size, b.tarballBytes);
  const listed = execFileSync('tar', ['tzf', b.tarball], { encoding: 'utf8' }).trim().split('\n').sort();
  assert.equal(listed, expected.map((f) => `2026-12-02T030405Z/${f}`));
  const report = bundleReport(b, outDir);
  assert.match(report, new RegExp(`^logs: logs/2026-12-02T030405Z/ — ${expected.length - 2} items \\(\\d+ kB\\) in \\d+\\.\\d s, 0 could not be collected\\n  archive: logs/2026-12-02T030405Z.tar.gz \\(\\d+ kB\\)\\n$`));
});

test('a failing command, a stopped node, a dead apiserver: each a MISSING line with its reason; the rest is collected', async () => {
  const outDir = scratch();
  const w1 = worker();
  const answer = w1.onExec!;
  w1.onExec = (argv, opts) => (argv[0] === 'iptables-save' ? out('', 4, 'iptables-save v1.8.9: Cannot initialize: Permission denied\n') : answer(argv, opts));
  const w2 = new StoppedNode('worker-2');
  const kubectl = fakeKubectl(true);
  const items = [clusterItems(kubectl), nodeItems(source(w1, true)), nodeItems({ name: 'worker-2', handle: w2, units: ['containerd', 'kubelet'], runtime: true }), runLogItem(join(outDir, 'last-run.log'))];
  const b = await bundle(items, outDir);
  const files = filesUnder(b.dir);
  assert.ok(files.includes('nodes/worker-1/journal/kubelet.log'));
  assert.not.ok(files.includes('nodes/worker-1/iptables-save.txt'));
  assert.not.ok(files.some((f) => f.startsWith('nodes/worker-2/') || f.startsWith('cluster/')), files.join(' '));
  // The stopped node and the dead apiserver each cost one try, not one per item.
  assert.is(w2.execs.length, 1);
  assert.is(kubectl.calls.length, 1);
  const missing = new Map(b.collection.missing.map((m) => [m.path, m.reason]));
  assert.is(missing.get('nodes/worker-1/iptables-save.txt'), '`iptables-save` exited 4: iptables-save v1.8.9: Cannot initialize: Permission denied');
  assert.is(missing.get('nodes/worker-2/system-state.txt'), 'worker-2: container is not running (exec systemctl)');
  assert.is(missing.get('nodes/worker-2/journal/kubelet.log'), 'needs worker-2: systemctl is-system-running, which failed: worker-2: container is not running (exec systemctl)');
  assert.match(missing.get('cluster/version.txt')!, /`kubectl --request-timeout=5s version` exited 1: … The connection to the server 10\.9\.0\.10:6443 was refused/);
  assert.match(missing.get('cluster/get-all.txt')!, /^needs kubectl version, which failed: /);
  assert.match(missing.get('last-run.log')!, /^no build has run here yet: .*last-run\.log does not exist$/);
  // worker-2: the check plus 2 unit files, 2 journals, 3 network files and 5 runtime items; cluster: the check plus 6.
  assert.is([...missing.keys()].filter((p) => p.startsWith('nodes/worker-2/')).length, 13);
  assert.is([...missing.keys()].filter((p) => p.startsWith('cluster/')).length, 7);
  const text = readFileSync(join(b.dir, 'MISSING.txt'), 'utf8');
  assert.match(text, /^22 item\(s\) could not be collected:\n\n/);
  assert.match(text, /\nnodes\/worker-2\/ip-route\.txt  \(worker-2: ip route\)\n {4}needs worker-2: systemctl is-system-running, which failed: worker-2: container is not running \(exec systemctl\)\n/);
  // The printed summary: one line per failure with its own reason, counting what needed it.
  const report = bundleReport(b, outDir);
  assert.match(report, / 22 could not be collected\n/);
  assert.match(report, /\n {4}worker-2: systemctl is-system-running: worker-2: container is not running \(exec systemctl\) \(and the 12 items that need it\)\n/);
  assert.match(report, /\n {4}kubectl version: .*refused.* \(and the 6 items that need it\)\n/);
  assert.match(report, /\n {4}worker-1: iptables-save: `iptables-save` exited 4: .*Permission denied\n/);
  assert.match(report, /every item and why: logs\/2026-12-02T030405Z\/MISSING\.txt/);
});

test('each item has a time limit (even one that ignores its signal), and at most `jobs` items run at once', async () => {
  const outDir = scratch();
  let running = 0;
  let most = 0;
  class SlowNode extends FakeNode {
    override async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
      running++;
      most = Math.max(most, running);
      try {
        // `ip route` hangs and ignores the abort, like a wedged transport; the rest take 20 ms.
        if (argv.join(' ') === 'ip route') await new Promise(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
        return await super.exec(argv, opts);
      } finally {
        running--;
      }
    }
  }
  const node = new SlowNode('worker-1');
  const healthy = worker();
  for (const [unit, state] of healthy.units) node.units.set(unit, state);
  node.onExec = healthy.onExec;
  const started = performance.now();
  const b = await bundle([nodeItems({ name: 'worker-1', handle: node, units: ['containerd', 'kubelet'], runtime: true })], outDir, { jobs: 3, timeoutMs: 300 });
  const ms = performance.now() - started;
  assert.is(b.collection.missing.length, 1, JSON.stringify(b.collection.missing));
  assert.equal(b.collection.missing[0], { path: 'nodes/worker-1/ip-route.txt', what: 'worker-1: ip route', reason: 'timed out after 300 ms' });
  // The check, 2 unit files, 2 journals, 3 network files, 5 runtime items and the 2 pod log files found: all but ip route.
  assert.is(b.collection.collected.length, 14);
  assert.ok(most <= 3 && most >= 2, `at most 3 at once, and more than one: ${most}`);
  // 15 items of 20 ms on 3 lanes plus one 300 ms limit: well under the time of running them one by one after the hang.
  assert.ok(ms < 1500, `${Math.round(ms)} ms`);
});

test('on a node without crictl the host-built crictl is streamed in for the command; without either, ctr lists the containers', async () => {
  const outDir = scratch();
  const w1 = worker();
  const answer = w1.onExec!;
  let stdinSeen: string | undefined;
  w1.onExec = (argv, opts) => {
    if (argv.join(' ') === 'sh -c command -v crictl') return out('', 1);
    if (argv[0] === 'sh' && argv[3] === 'crictl') {
      stdinSeen = String(opts.stdin);
      return out(`streamed: ${argv.slice(4).join(' ')}\n`);
    }
    return answer(argv, opts);
  };
  const w2 = worker('worker-2');
  const answer2 = w2.onExec!;
  w2.onExec = (argv, opts) => (argv.join(' ') === 'sh -c command -v crictl' ? out('', 1) : answer2(argv, opts));
  const b = await bundle([nodeItems({ ...source(w1, true), crictl: async () => Buffer.from('ELF crictl') }), nodeItems(source(w2, true))], outDir);
  const read = (path: string) => readFileSync(join(b.dir, path), 'utf8');
  assert.is(read('nodes/worker-1/crictl-ps.txt'), 'streamed: --runtime-endpoint unix:///run/containerd/containerd.sock --timeout 5s ps -a\n');
  assert.is(stdinSeen, 'ELF crictl');
  // The streamed binary goes to a private temp file that is removed however the command ends.
  const script = w1.execs.find((e) => e.argv[0] === 'sh' && e.argv[3] === 'crictl')!;
  assert.ok(script.stdin && script.readOnly);
  assert.match(script.argv[2]!, /mktemp .*trap 'rm -f "\$b"' EXIT/);
  const missing = b.collection.missing.map((m) => `${m.path}: ${m.reason}`);
  assert.equal(missing, [
    'nodes/worker-2/crictl-pods.txt: crictl is not installed on worker-2 and not built on this host (`npx tsx tasks.ts bin:crictl` builds it); ctr-containers.txt and ctr-tasks.txt list the containers',
    'nodes/worker-2/crictl-ps.txt: crictl is not installed on worker-2 and not built on this host (`npx tsx tasks.ts bin:crictl` builds it); ctr-containers.txt and ctr-tasks.txt list the containers',
  ]);
  assert.is(read('nodes/worker-2/ctr-containers.txt'), 'containers ls on worker-2\n');
});

test("the project's graph names each node's units: control planes run the control plane, workers containerd, kubelet and kube-proxy", () => {
  const reads = nodeReadsOf(projectTargets(defaultConfig));
  const units = (node: string) => [...(reads.get(node)?.units ?? [])].sort();
  assert.equal(units('controller-1'), ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'node-sysctl', 'pod-routes'].sort());
  assert.equal(units('worker-1'), ['containerd', 'kube-proxy', 'kubelet', 'kubelet-prepare', 'node-sysctl', 'pod-routes'].sort());
});

test('a failed run suggests `logs` for a failure on a node or in the cluster, not for a certificate or a binary', () => {
  const failure = (target: string) => ({ target, message: 'failed', kind: 'build-failed' });
  for (const target of ['unit:worker-1:kubelet', 'node:worker-2', 'cluster:coredns', 'ready:worker-1:node', 'install:controller-1:etcd-unit', 'load:echo@worker-1', 'remove:node:worker-3']) {
    assert.match(logsHint([failure(target)]) ?? '', /npx tsx tasks\.ts logs/, target);
  }
  for (const target of ['certs:ca', 'bin:kubectl', 'image:coredns', 'kubeconfig:admin', 'host:preflight']) assert.is(logsHint([failure(target)]), undefined, target);
});

test.run();
