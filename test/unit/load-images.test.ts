// loadImagesIntoNode against the recording fake node (lib/node/fake.ts) with a small containerd in it:
// an image is imported once per node by its ID, every further name is added with `ctr images tag`,
// everything a node lacks goes in one `docker save` stream to one import, and a second load does nothing
// but one listing. The load command makes one target per worker, and they run side by side.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { loadImagesIntoNode, type LocalImages } from '../../lib/docker/load-image.ts';
import type { ExecOptions, ExecResult } from '../../lib/node/handle.ts';
import { FakeNode, fakeFleet } from '../../lib/node/fake.ts';
import { provide, runBuild } from '../../lib/engine/index.ts';
import { target } from '../../lib/engine/target.ts';
import { loadCommandTargets, type NodeLoadResult } from '../../tasks/images/cluster-images.ts';
import { nodeFleet } from '../../tasks/nodes/node-fleet.ts';
import type { NodeContainer } from '../../tasks/nodes/containers.ts';
import { tempProject } from '../fixtures/engine/helpers.ts';

const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const ok = (stdout = ''): ExecResult => ({ stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), exitCode: 0 });

/** A fake node whose containerd holds images by name (→ manifest digest → config digest = Docker's image ID). */
class ContainerdNode extends FakeNode {
  /** containerd name → manifest digest. */
  readonly images = new Map<string, string>();
  /** manifest digest → config digest. */
  readonly manifests = new Map<string, string>();
  /** The names in each `ctr images import` stream, in order. */
  readonly imports: string[][] = [];
  /** Every `ctr images tag`: [source, target]. */
  readonly tags: [string, string][] = [];
  /** How long an import takes (ms), to see loads of two nodes overlap. */
  importMs = 0;
  /** Start and end times of each import. */
  readonly importSpans: [number, number][] = [];

  constructor(name: string) {
    super(name);
    this.onExec = (argv) => {
      const [, , , noun, verb, ...rest] = argv;
      if (noun === 'images' && verb === 'ls') {
        return ok(['REF TYPE DIGEST SIZE PLATFORMS LABELS', ...[...this.images].map(([n, d]) => `${n} application/vnd.docker.distribution.manifest.v2+json ${d} 1.0 MiB linux/amd64 -`)].join('\n'));
      }
      if (noun === 'content' && verb === 'get') {
        const config = this.manifests.get(rest[0]!);
        return config ? ok(JSON.stringify({ config: { digest: config } })) : { stdout: Buffer.alloc(0), stderr: Buffer.from('not found'), exitCode: 1 };
      }
      if (noun === 'images' && verb === 'tag') {
        const [source, ...targets] = rest.filter((a) => !a.startsWith('--'));
        for (const t of targets) {
          this.tags.push([source!, t]);
          this.images.set(t, this.images.get(source!)!);
        }
        return ok();
      }
      if (noun === 'images' && verb === 'import') return ok();
      return undefined;
    };
  }

  /** Puts an image on the node as an earlier import would have. */
  hold(name: string, id: string): void {
    this.manifests.set(sha(`manifest of ${id}`), id);
    this.images.set(name, sha(`manifest of ${id}`));
  }

  override async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    if (argv.includes('import') && opts.stdin && typeof opts.stdin !== 'string' && !Buffer.isBuffer(opts.stdin)) {
      const started = performance.now();
      const chunks: Buffer[] = [];
      for await (const chunk of opts.stdin) chunks.push(Buffer.from(chunk as Buffer));
      // What the fake save wrote: the images of the stream.
      const saved = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name: string; id: string }[];
      await new Promise((resolve) => setTimeout(resolve, this.importMs));
      this.imports.push(saved.map((s) => s.name));
      for (const { name, id } of saved) this.hold(name, id);
      this.importSpans.push([started, performance.now()]);
    }
    return super.exec(argv, opts);
  }
}

/** Docker's side: image IDs by reference, and a save that writes the saved images' containerd names. */
function localImages(ids: Record<string, string>): LocalImages & { saves: string[][] } {
  const saves: string[][] = [];
  const name = (ref: string) => (ref.includes('/') ? ref : `docker.io/library/${ref}`);
  return {
    saves,
    id: async (ref) => ids[ref],
    save: async (refs) => {
      saves.push(refs);
      return Readable.from([Buffer.from(JSON.stringify(refs.map((ref) => ({ name: name(ref), id: ids[ref] }))))]);
    },
  };
}

const A = sha('image a');
const B = sha('image b');
const C = sha('image c');

test('several images a node lacks: one save, one import stream, each name checked after', async () => {
  const node = new ContainerdNode('n1');
  const images = localImages({ 'a:1': A, 'b:1': B, 'c:1': C });
  const outcomes = await loadImagesIntoNode(node, ['a:1', 'b:1', 'c:1'], { images });
  assert.equal(images.saves, [['a:1', 'b:1', 'c:1']]);
  assert.equal(node.imports, [['docker.io/library/a:1', 'docker.io/library/b:1', 'docker.io/library/c:1']]);
  assert.equal(outcomes.map((o) => [o.ref, o.id, o.skipped]), [
    ['docker.io/library/a:1', A, false],
    ['docker.io/library/b:1', B, false],
    ['docker.io/library/c:1', C, false],
  ]);
});

test('one image under two names: imported once, the second name tagged', async () => {
  const node = new ContainerdNode('n2');
  const images = localImages({ 'a:1': A, 'a:latest': A });
  const outcomes = await loadImagesIntoNode(node, ['a:1', 'a:latest'], { images });
  assert.equal(images.saves, [['a:1']]);
  assert.equal(node.imports, [['docker.io/library/a:1']]);
  assert.equal(node.tags, [['docker.io/library/a:1', 'docker.io/library/a:latest']]);
  assert.equal(outcomes.map((o) => [o.ref, o.tagged ?? false]), [['docker.io/library/a:1', false], ['docker.io/library/a:latest', true]]);
});

test('an image the node holds under another name is tagged from it, not imported', async () => {
  const node = new ContainerdNode('n3');
  node.hold('registry.example/team/a:old', A);
  const images = localImages({ 'a:1': A, 'b:1': B });
  await loadImagesIntoNode(node, ['a:1', 'b:1'], { images });
  assert.equal(images.saves, [['b:1']], 'only the image the node lacks is saved');
  assert.equal(node.tags, [['registry.example/team/a:old', 'docker.io/library/a:1']]);
});

test('a name that now points at another image is replaced; a second load only lists', async () => {
  const node = new ContainerdNode('n4');
  node.hold('docker.io/library/a:1', B); // a:1 was rebuilt locally since
  const cache = join(tempProject('load-images'), 'output/cache/containerd-image-configs.json');
  const images = localImages({ 'a:1': A });
  const first = await loadImagesIntoNode(node, ['a:1'], { images, configCache: cache });
  assert.equal(first.map((o) => [o.id, o.skipped]), [[A, false]]);
  assert.equal(node.imports, [['docker.io/library/a:1']]);
  node.execs.length = 0;
  const again = await loadImagesIntoNode(node, ['a:1'], { images, configCache: cache });
  assert.equal(again.map((o) => o.skipped), [true]);
  assert.equal(node.execs.map((e) => e.argv.slice(3).join(' ')), ['images ls'], 'config digest from the cache: no content read, no import');
});

test('the load command: one target per worker, loading side by side', async () => {
  const nodes = ['worker-1', 'worker-2'].map((name) => {
    const node = new ContainerdNode(`harder-${name}`);
    node.importMs = 150;
    return node;
  });
  const nodeTargets = nodes.map((node) =>
    target({ name: `node:${node.name.replace('harder-', '')}`, description: 'a node', deps: {}, build: async (): Promise<NodeContainer> => ({ name: node.name.replace('harder-', ''), container: node.name, id: 'c0ffee', ip: '10.0.0.2', role: 'worker', image: 'harder-node:x', key: 'k' }) }),
  );
  const ids: Record<string, string> = { 'a:1': A, 'b:1': B };
  const saved = localImages(ids);
  // The command's targets read Docker through the real client; the fake stands in for the engine API here.
  const targets = loadCommandTargets(['a:1', 'b:1'], nodeTargets, saved);
  assert.equal(targets.map((t) => t.name), ['load:worker-1', 'load:worker-2']);
  const registry = [...nodeTargets, ...targets];
  const root = tempProject('load-command');
  const report = await runBuild({ targets: registry, requested: targets.map((t) => t.name), root, jobs: 2, resources: [provide(nodeFleet, fakeFleet(nodes, registry))] });
  assert.ok(report.ok, JSON.stringify(report.failures));
  for (const node of nodes) assert.equal(node.imports, [['docker.io/library/a:1', 'docker.io/library/b:1']], node.name);
  const result = report.entries['load:worker-2']!.result as NodeLoadResult;
  assert.equal(result, { node: 'worker-2', container: 'harder-worker-2', images: [{ ref: 'docker.io/library/a:1', id: A }, { ref: 'docker.io/library/b:1', id: B }] });
  const [one, two] = nodes.map((n) => n.importSpans[0]!);
  assert.ok(one![0] < two![1] && two![0] < one![1], `imports overlap: ${JSON.stringify([one, two])}`);
});

test.run();
