// host:kubeconfig and its merge: the admin context harder-<name> merged into a user's kubeconfig that holds
// other contexts (kept byte for byte, comments and preferences included), made current, taken out again
// leaving the rest; an empty, a missing and a malformed file; $KUBECONFIG with several paths; the target's
// probe (drift only when our entries went or changed), its 0600/0700 writes, and clean (a dry run removes
// nothing). Every result is read back by Debian's kubectl (kubernetes-client), not only by our own parser.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entryDigest, entryDrift, entryFromKubeconfig, KubeconfigFileError, mergeKubeconfig, removeFromKubeconfig, type KubeconfigEntry } from '../../tasks/certs/kubeconfig-merge.ts';
import { editUserKubeconfig, hostKubeconfigTarget, kubectlHint, userKubeconfigPath, type HostKubeconfigResult } from '../../tasks/certs/host-kubeconfig.ts';
import { renderKubeconfig, type KubeconfigResult } from '../../tasks/certs/kubeconfig.ts';
import { cleanTargets, runBuild, target } from '../../lib/engine/index.ts';
import { defaultConfig } from '../../tasks/config/config.ts';

const KUBECTL = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
const dir = mkdtempSync(join(tmpdir(), 'harder-host-kubeconfig-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const fresh = (): string => join(dir, `case-${n++}`, 'config');

/** Debian's kubectl on one kubeconfig (or a KUBECONFIG list); throws with its stderr when it fails. */
function kubectl(kubeconfig: string, ...args: string[]): string {
  if (!KUBECTL) throw new Error('kubectl is not installed (Debian: apt-get install kubernetes-client; .ci/run installs it)');
  return execFileSync(KUBECTL, args, { env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const contexts = (kubeconfig: string): string[] => kubectl(kubeconfig, 'config', 'get-contexts', '-o', 'name').trim().split('\n').filter(Boolean).sort();
const current = (kubeconfig: string): string => spawnSync(KUBECTL, ['config', 'current-context'], { env: { PATH: process.env.PATH, HOME: dir, KUBECONFIG: kubeconfig }, encoding: 'utf8' }).stdout.trim();
type View = { clusters: { name: string; cluster: Record<string, unknown> }[]; users: { name: string; user: Record<string, unknown> }[]; contexts: { name: string; context: Record<string, unknown> }[]; preferences: Record<string, unknown> };
const view = (kubeconfig: string): View => JSON.parse(kubectl(kubeconfig, 'config', 'view', '--raw', '-o', 'json')) as View;

/** A kubeconfig as kubectl itself writes it: another cluster, user and context (current), with a token. */
function otherKubeconfig(file: string): string {
  mkdirSync(join(file, '..'), { recursive: true });
  kubectl(file, 'config', 'set-cluster', 'prod', '--server', 'https://prod.example:6443', '--insecure-skip-tls-verify=true');
  kubectl(file, 'config', 'set-credentials', 'prod-admin', '--token', 's3cr3t');
  kubectl(file, 'config', 'set-context', 'prod', '--cluster', 'prod', '--user', 'prod-admin', '--namespace', 'shop');
  kubectl(file, 'config', 'use-context', 'prod');
  return readFileSync(file, 'utf8');
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const entry = (server = 'https://127.0.0.1:6443'): KubeconfigEntry => ({ name: 'harder-demo', server, caData: b64('CA PEM'), certData: b64('CERT PEM'), keyData: b64('KEY PEM') });

test('merge into a kubectl-written file: ours added and current, the other context intact; removal gives back the same bytes', () => {
  const file = fresh();
  const original = otherKubeconfig(file);
  const before = view(file);
  writeFileSync(file, mergeKubeconfig(original, file, entry(), true));
  assert.equal(contexts(file), ['harder-demo', 'prod']);
  assert.is(current(file), 'harder-demo');
  const after = view(file);
  const ours = after.clusters.find((c) => c.name === 'harder-demo')!.cluster;
  assert.is(ours.server, 'https://127.0.0.1:6443');
  assert.is(ours['certificate-authority-data'], b64('CA PEM'));
  assert.equal(after.users.find((u) => u.name === 'harder-demo')!.user, { 'client-certificate-data': b64('CERT PEM'), 'client-key-data': b64('KEY PEM') });
  for (const list of ['clusters', 'users', 'contexts'] as const) {
    assert.equal(after[list].filter((i) => !i.name.startsWith('harder-')), before[list], `${list} other than ours unchanged`);
  }
  // The other context's namespace and token still work as kubectl reads them.
  assert.is(kubectl(file, 'config', 'view', '--raw', '-o', 'jsonpath={.users[?(@.name=="prod-admin")].user.token}'), 's3cr3t');
  const removed = removeFromKubeconfig(readFileSync(file, 'utf8'), file, 'harder-demo');
  assert.equal(removed.removed, ['cluster harder-demo', 'user harder-demo', 'context harder-demo', 'current-context']);
  // Only what we added (and the current-context we set) went: the rest is the original text, byte for byte.
  assert.is(removed.text, original.replace(/^current-context: prod\n/m, ''));
  writeFileSync(file, removed.text);
  assert.equal(contexts(file), ['prod']);
});

test('comments, preferences and key order of a hand-edited file survive a merge', () => {
  const file = fresh();
  const text = [
    '# my clusters — edited by hand',
    'apiVersion: v1',
    'kind: Config',
    'preferences:',
    '  colors: true   # keep',
    'current-context: prod',
    'clusters:',
    '  - name: prod',
    '    cluster:',
    '      server: "https://prod.example:6443"',
    'users:',
    '  - name: prod-admin',
    '    user: {token: s3cr3t}',
    'contexts:',
    '  - name: prod',
    '    context: {cluster: prod, user: prod-admin}',
    '',
  ].join('\n');
  mkdirSync(join(file, '..'), { recursive: true });
  const merged = mergeKubeconfig(text, file, entry(), true);
  writeFileSync(file, merged);
  assert.equal(contexts(file), ['harder-demo', 'prod']);
  assert.is(current(file), 'harder-demo');
  assert.equal(view(file).preferences, { colors: true });
  for (const kept of ['# my clusters — edited by hand', '  colors: true   # keep', '      server: "https://prod.example:6443"', '    user: {token: s3cr3t}', '    context: {cluster: prod, user: prod-admin}']) {
    assert.ok(merged.includes(`${kept}\n`), `kept: ${kept}\n---\n${merged}`);
  }
  assert.ok(merged.indexOf('kind: Config') < merged.indexOf('preferences:'), 'key order kept');
});

test('empty lists (null, [], absent) and a flow-style list: kubectl reads the merge, the other entries stay', () => {
  const layouts = [
    'apiVersion: v1\nkind: Config\nclusters: null\ncontexts: []\nusers:\ncurrent-context: ""\npreferences: {}\n',
    'apiVersion: v1\nkind: Config\n',
    'apiVersion: v1\nkind: Config\nclusters: [{name: prod, cluster: {server: "https://prod.example:6443"}}]\nusers: [{name: prod-admin, user: {token: s3cr3t}}]\ncontexts: [{name: prod, context: {cluster: prod, user: prod-admin}}]\ncurrent-context: prod',
  ];
  for (const text of layouts) {
    const file = fresh();
    mkdirSync(join(file, '..'), { recursive: true });
    const merged = mergeKubeconfig(text, file, entry(), true);
    writeFileSync(file, merged);
    const other = text.includes('prod') ? ['prod'] : [];
    assert.equal(contexts(file), ['harder-demo', ...other], merged);
    assert.is(current(file), 'harder-demo');
    if (text.startsWith('apiVersion: v1\nkind: Config\n')) assert.ok(merged.startsWith('apiVersion: v1\nkind: Config\n'), merged);
    const removed = removeFromKubeconfig(merged, file, 'harder-demo');
    writeFileSync(file, removed.text);
    assert.equal(contexts(file), other, removed.text);
    assert.is(view(file).clusters?.length ?? 0, other.length);
  }
});

test('a missing or empty file becomes a kubeconfig with only our context, current', () => {
  for (const start of [undefined, '', '\n# nothing yet\n']) {
    const file = fresh();
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, mergeKubeconfig(start, file, entry(), true));
    assert.equal(contexts(file), ['harder-demo'], JSON.stringify(start));
    assert.is(current(file), 'harder-demo');
    assert.is(view(file).clusters[0]!.cluster.server, 'https://127.0.0.1:6443');
  }
});

test('merging again replaces ours in place (a new server), never a second entry', () => {
  const file = fresh();
  const once = mergeKubeconfig(otherKubeconfig(file), file, entry(), true);
  const twice = mergeKubeconfig(once, file, entry('https://127.0.0.1:7443'), true);
  writeFileSync(file, twice);
  const v = view(file);
  assert.is(v.clusters.filter((c) => c.name === 'harder-demo').length, 1);
  assert.is(v.clusters.find((c) => c.name === 'harder-demo')!.cluster.server, 'https://127.0.0.1:7443');
  assert.is(mergeKubeconfig(twice, file, entry('https://127.0.0.1:7443'), true), twice, 'merging the same entry changes nothing');
});

test('removal when another context is current: only ours goes, current-context stays', () => {
  const file = fresh();
  writeFileSync(file, mergeKubeconfig(otherKubeconfig(file), file, entry(), true));
  kubectl(file, 'config', 'use-context', 'prod');
  const out = removeFromKubeconfig(readFileSync(file, 'utf8'), file, 'harder-demo');
  assert.equal(out.removed, ['cluster harder-demo', 'user harder-demo', 'context harder-demo']);
  writeFileSync(file, out.text);
  assert.equal(contexts(file), ['prod']);
  assert.is(current(file), 'prod');
  const again = removeFromKubeconfig(out.text, file, 'harder-demo');
  assert.equal(again.removed, []);
  assert.is(again.text, out.text, 'nothing of ours: text unchanged');
});

test('a malformed file is never rewritten: one error naming the file and what to do', async () => {
  const cases = ['apiVersion: v1\nclusters:\n- name: a\n  cluster: {server: x\n', '- just\n- a list\n', 'clusters: 42\n', 'a: 1\na: 2\n'];
  for (const text of cases) {
    const file = fresh();
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text, { mode: 0o644 });
    let error: unknown;
    try {
      await editUserKubeconfig(file, (t) => mergeKubeconfig(t, file, entry(), true));
    } catch (e) {
      error = e;
    }
    assert.instance(error, KubeconfigFileError, JSON.stringify(text));
    assert.match((error as Error).message, file);
    assert.match((error as KubeconfigFileError).hint ?? '', /fix the file/);
    assert.match((error as KubeconfigFileError).hint ?? '', /mergeKubeconfig: false/);
    assert.is(readFileSync(file, 'utf8'), text, 'file untouched');
    assert.is(statSync(file).mode & 0o777, 0o644, 'mode untouched');
    assert.not.ok(existsSync(`${file}.lock`), 'lock released');
    assert.throws(() => removeFromKubeconfig(text, file, 'harder-demo'), (e: unknown) => e instanceof KubeconfigFileError);
  }
});

test('$KUBECONFIG: one path; several (first existing, else the last, as kubectl); unset: ~/.kube/config', () => {
  const a = join(dir, 'kc-a');
  const b = join(dir, 'kc-b');
  const none = () => false;
  assert.is(userKubeconfigPath({ KUBECONFIG: a }, '/home/x', '/'), a);
  assert.is(userKubeconfigPath({ KUBECONFIG: `${a}:${b}` }, '/home/x', '/', none), b);
  assert.is(userKubeconfigPath({ KUBECONFIG: `${a}:${b}` }, '/home/x', '/', (p) => p === b), b);
  assert.is(userKubeconfigPath({ KUBECONFIG: `:${a}::${b}` }, '/home/x', '/', () => true), a);
  assert.is(userKubeconfigPath({ KUBECONFIG: 'rel/config' }, '/home/x', '/work'), '/work/rel/config');
  assert.is(userKubeconfigPath({ KUBECONFIG: '', HOME: '/home/y' }, '/home/x', '/'), '/home/y/.kube/config');
  assert.is(userKubeconfigPath({}, '/home/x', '/'), '/home/x/.kube/config');
  // kubectl with both files agrees: ours, merged into the existing b, is current and the other still there.
  otherKubeconfig(b);
  const list = `${a}:${b}`;
  const file = userKubeconfigPath({ KUBECONFIG: list }, '/', '/');
  writeFileSync(file, mergeKubeconfig(readFileSync(file, 'utf8'), file, entry(), true));
  assert.equal(contexts(list), ['harder-demo', 'prod']);
  assert.is(current(list), 'harder-demo');
  assert.not.ok(existsSync(a), 'the missing first file was not created');
});

test('drift: none after the merge or after kubectl switched context; reported when ours was deleted or changed', () => {
  const file = fresh();
  const e = entry();
  writeFileSync(file, mergeKubeconfig(otherKubeconfig(file), file, e, true));
  const digest = entryDigest(e);
  const drift = (): string | undefined => entryDrift(readFileSync(file, 'utf8'), file, 'harder-demo', digest);
  assert.is(drift(), undefined);
  kubectl(file, 'config', 'use-context', 'prod'); // kubectl rewrites the whole file, in its own layout
  assert.is(drift(), undefined);
  kubectl(file, 'config', 'set-cluster', 'harder-demo', '--server', 'https://10.0.0.1:6443');
  assert.match(drift() ?? '', /harder-demo differs/);
  kubectl(file, 'config', 'delete-context', 'harder-demo');
  assert.match(drift() ?? '', /has no context harder-demo/);
});

test('entryFromKubeconfig copies the admin kubeconfig\'s server and credentials under our name', () => {
  const text = renderKubeconfig({ clusterName: 'demo', server: 'https://10.9.0.10:6443', user: 'admin', caPem: 'CA PEM', certPem: 'CERT PEM', keyPem: 'KEY PEM' });
  assert.equal(entryFromKubeconfig(text, 'admin.kubeconfig', 'harder-demo'), { ...entry('https://10.9.0.10:6443') });
  assert.throws(() => entryFromKubeconfig('apiVersion: v1\nkind: Config\n', 'admin.kubeconfig', 'harder-demo'), (e: unknown) => e instanceof KubeconfigFileError);
});

/** The target over stand-ins for its dependencies: an admin kubeconfig file of the server given, a ready API. */
function targets(root: string, file: string, server: string) {
  const admin = target({
    name: 'kubeconfig:admin',
    description: 'stand-in admin kubeconfig',
    deps: {},
    inputs: { values: { server } },
    outputs: ['output/kubeconfig/admin.kubeconfig'],
    build: async (): Promise<KubeconfigResult> => {
      const text = renderKubeconfig({ clusterName: 'demo', server, user: 'admin', caPem: 'CA PEM', certPem: 'CERT PEM', keyPem: 'KEY PEM' });
      mkdirSync(join(root, 'output/kubeconfig'), { recursive: true });
      writeFileSync(join(root, 'output/kubeconfig/admin.kubeconfig'), text, { mode: 0o600 });
      return { path: 'output/kubeconfig/admin.kubeconfig', sha256: server, server, user: 'admin', cluster: 'demo' };
    },
  });
  const ready = target({ name: 'cluster:apiserver-ready', description: 'stand-in', deps: {}, build: async () => ({ url: server }) });
  return [admin, ready, hostKubeconfigTarget({ ...defaultConfig, clusterName: 'demo' }, { admin, apiserverReady: ready }, file)];
}

test('host:kubeconfig: merges (0600, parent 0700), a second run probes only, drift rebuilds, clean removes only ours (not in a dry run)', async () => {
  const root = join(dir, `project-${n++}`);
  mkdirSync(root);
  const file = join(dir, `home-${n++}`, '.kube', 'config');
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = file; // what clean's removeHostContext looks at besides the recorded file
  try {
    const build = async (server = 'https://127.0.0.1:6443') => runBuild({ targets: targets(root, file, server), requested: ['host:kubeconfig'], root, jobs: 2 });
    const first = await build();
    assert.ok(first.ok, JSON.stringify(first.failures));
    assert.is(first.entries['host:kubeconfig']!.outcome, 'built');
    assert.is(statSync(file).mode & 0o777, 0o600);
    assert.is(statSync(join(file, '..')).mode & 0o777, 0o700);
    assert.equal(contexts(file), ['harder-demo']);
    assert.is(kubectl(file, 'config', 'view', '-o', 'jsonpath={.clusters[0].cluster.server}'), 'https://127.0.0.1:6443');
    // Someone adds their own context and switches to it: not drift.
    kubectl(file, 'config', 'set-cluster', 'prod', '--server', 'https://prod.example:6443');
    kubectl(file, 'config', 'set-context', 'prod', '--cluster', 'prod');
    kubectl(file, 'config', 'use-context', 'prod');
    assert.is((await build()).entries['host:kubeconfig']!.outcome, 'up-to-date');
    assert.is(current(file), 'prod', 'a no-op run does not take current-context back');
    // Ours deleted: rebuilt, current again, theirs kept.
    kubectl(file, 'config', 'delete-context', 'harder-demo');
    assert.is((await build()).entries['host:kubeconfig']!.outcome, 'built');
    assert.equal(contexts(file), ['harder-demo', 'prod']);
    assert.is(current(file), 'harder-demo');
    // The admin kubeconfig's server moves (a published port): the merged cluster follows.
    assert.is((await build('https://127.0.0.1:34567')).entries['host:kubeconfig']!.outcome, 'built');
    assert.is(kubectl(file, 'config', 'view', '-o', 'jsonpath={.clusters[?(@.name=="harder-demo")].cluster.server}'), 'https://127.0.0.1:34567');
    const before = readFileSync(file, 'utf8');
    const dry = await cleanTargets({ targets: targets(root, file, 'https://127.0.0.1:34567'), requested: ['host:kubeconfig'], root, dryRun: true });
    assert.ok(dry.external.includes('host:kubeconfig'));
    assert.is(readFileSync(file, 'utf8'), before, 'a dry run removes nothing');
    const clean = await cleanTargets({ targets: targets(root, file, 'https://127.0.0.1:34567'), requested: ['host:kubeconfig'], root });
    assert.ok(clean.ok, JSON.stringify(clean.failures));
    assert.equal(contexts(file), ['prod']);
    assert.equal(view(file).clusters.map((c) => c.name), ['prod']);
    assert.is(current(file), '', 'current-context was ours: unset');
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
});

test('$KUBECONFIG naming the admin kubeconfig itself: nothing merged into it, nothing removed from it', async () => {
  const root = join(dir, `project-${n++}`);
  mkdirSync(root);
  const own = join(root, 'output/kubeconfig/admin.kubeconfig');
  const saved = process.env.KUBECONFIG;
  process.env.KUBECONFIG = own;
  try {
    const report = await runBuild({ targets: targets(root, own, 'https://127.0.0.1:6443'), requested: ['host:kubeconfig'], root, jobs: 2 });
    assert.ok(report.ok, JSON.stringify(report.failures));
    const before = readFileSync(own, 'utf8');
    assert.equal(contexts(own), ['admin@demo'], 'only the admin kubeconfig\'s own context');
    assert.is((await runBuild({ targets: targets(root, own, 'https://127.0.0.1:6443'), requested: ['host:kubeconfig'], root, jobs: 2 })).entries['host:kubeconfig']!.outcome, 'up-to-date');
    const clean = await cleanTargets({ targets: targets(root, own, 'https://127.0.0.1:6443'), requested: ['host:kubeconfig'], root });
    assert.ok(clean.ok, JSON.stringify(clean.failures));
    assert.is(readFileSync(own, 'utf8'), before);
  } finally {
    if (saved === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = saved;
  }
});

test('a symlinked kubeconfig is edited where it points; the link stays', async () => {
  const real = fresh();
  otherKubeconfig(real);
  const link = join(dir, `link-${n++}`);
  symlinkSync(real, link);
  await editUserKubeconfig(link, (t) => mergeKubeconfig(t, link, entry(), true));
  assert.ok(statSync(link) && readFileSync(link, 'utf8') === readFileSync(real, 'utf8'));
  assert.ok(spawnSync('test', ['-L', link]).status === 0, 'still a symlink');
  assert.equal(contexts(real), ['harder-demo', 'prod']);
});

test('the hint after cluster: current context, another one current, our own kubeconfig, opted out, a --name cluster', () => {
  const file = fresh();
  writeFileSync(file, mergeKubeconfig(otherKubeconfig(file), file, entry(), true));
  const config = { ...defaultConfig, clusterName: 'demo' };
  const merged: HostKubeconfigResult = { file, context: 'harder-demo', server: 'https://127.0.0.1:6443', sha256: '', digest: '', merged: true };
  assert.equal(kubectlHint(config, merged, 'npx tsx tasks.ts'), [`kubectl: context harder-demo is current in ${file}: kubectl get nodes works now (no kubectl on PATH? npx tsx tasks.ts kubectl get nodes)`]);
  kubectl(file, 'config', 'use-context', 'prod');
  assert.equal(kubectlHint(config, merged, 'npx tsx tasks.ts'), [`kubectl: context harder-demo is in ${file} (current: prod): kubectl --context harder-demo get nodes, or npx tsx tasks.ts kubectl get nodes`]);
  assert.match(kubectlHint(config, { ...merged, merged: false }, 'npx tsx tasks.ts')[0]!, `$KUBECONFIG is ${file}: kubectl get nodes works now`);
  assert.equal(kubectlHint(config, undefined, 'npx tsx tasks.ts'), ['kubectl: npx tsx tasks.ts kubectl get nodes (the built kubectl with output/kubeconfig/admin.kubeconfig); your kubeconfig is left alone (mergeKubeconfig: false)']);
  assert.match(kubectlHint({ ...config, stateDir: 'output/clusters/demo' }, undefined, 'npx tsx tasks.ts')[0]!, 'npx tsx tasks.ts --name demo kubectl get nodes (the built kubectl with output/clusters/demo/kubeconfig/admin.kubeconfig)');
});

test.run();
