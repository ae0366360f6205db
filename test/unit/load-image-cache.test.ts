// The image-load probe only reads the manifest → config digest cache (output/cache/containerd-image-configs.json):
// a probe that resolves a new manifest keeps it in memory and writes nothing (so --dry-run writes nothing);
// the load build writes the file, with what it loaded and what the probes resolved. Fake nodes, no Docker.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { loadImageIntoNode, probeNodeImageId } from '../../lib/docker/load-image.ts';
import type { ExecResult, NodeHandle } from '../../lib/docker/node-access.ts';
import { tempProject } from '../fixtures/engine/helpers.ts';

const digest = (c: string) => `sha256:${c.repeat(64)}`;

/** containerd's images: name → manifest digest and the config digest the manifest names. */
type Images = Record<string, { manifest: string; config: string }>;

/** A node whose containerd holds `images`; records every command it is asked to run. Only name and exec are used. */
function fakeNode(name: string, images: Images): NodeHandle & { calls: string[] } {
  const calls: string[] = [];
  const ok = (stdout: string): ExecResult => ({ stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), exitCode: 0 });
  const node = {
    name,
    calls,
    exec: async (argv: string[]): Promise<ExecResult> => {
      calls.push(argv.slice(3).join(' '));
      if (argv[3] === 'images' && argv[4] === 'ls') {
        const only = argv[5]?.replace(/^name==/, '');
        const rows = Object.entries(images).filter(([ref]) => !only || ref === only);
        return ok(['REF TYPE DIGEST SIZE PLATFORMS LABELS', ...rows.map(([ref, i]) => `${ref} application/vnd.oci.image.manifest.v1+json ${i.manifest} 1.0 MiB linux/amd64 -`)].join('\n'));
      }
      if (argv[3] === 'content' && argv[4] === 'get') {
        const image = Object.values(images).find((i) => i.manifest === argv[5]);
        return image ? ok(JSON.stringify({ config: { digest: image.config } })) : { stdout: Buffer.alloc(0), stderr: Buffer.from('not found'), exitCode: 1 };
      }
      throw new Error(`unexpected command ${argv.join(' ')}`);
    },
  };
  return node as unknown as NodeHandle & { calls: string[] };
}

/** A Docker client that only inspects: every image has config digest `id`. */
const fakeDocker = (id: string) => ({ getImage: () => ({ inspect: async () => ({ Id: id, Config: { Labels: {} }, RepoTags: [] }) }) }) as unknown as Dockerode;

const ECHO = 'docker.io/library/echo:1';
const PAUSE = 'registry.k8s.io/pause:3.10.1';
const images: Images = { [ECHO]: { manifest: digest('a'), config: digest('1') }, [PAUSE]: { manifest: digest('b'), config: digest('2') } };

test("a probe given the listing from the node's batched read runs no listing of its own", async () => {
  const cache = join(tempProject('load-cache'), 'output/cache/containerd-image-configs.json');
  const node = fakeNode('probe-node-listed', images);
  const listed = (await node.exec(['ctr', '-n', 'k8s.io', 'images', 'ls'])).stdout.toString('utf8');
  node.calls.length = 0;
  assert.is(await probeNodeImageId(node, 'echo:1', cache, listed), digest('1'));
  assert.equal(node.calls, [`content get ${digest('a')}`], 'only the manifest read, which the cache then saves next time');
  assert.is(await probeNodeImageId(node, 'gone:1', cache, listed), undefined);
  assert.is(await probeNodeImageId(node, 'echo:1', cache, ''), undefined, 'an empty listing: the node has no images');
  assert.equal(node.calls, [`content get ${digest('a')}`]);
});

test('a probe that resolves a new manifest writes nothing; the next probe answers from memory', async () => {
  const cache = join(tempProject('load-cache'), 'output/cache/containerd-image-configs.json');
  const first = fakeNode('probe-node-1', images);
  assert.is(await probeNodeImageId(first, 'echo:1', cache), digest('1'));
  assert.ok(first.calls.includes(`content get ${digest('a')}`));
  assert.not.ok(existsSync(cache), 'a probe does not write the cache');
  const second = fakeNode('probe-node-2', images);
  assert.is(await probeNodeImageId(second, 'echo:1', cache), digest('1'));
  assert.equal(second.calls, ['images ls'], 'resolved from what the first probe learnt, one listing only');
});

test('a load build records what it loaded and what probes resolved', async () => {
  const cache = join(tempProject('load-cache'), 'output/cache/containerd-image-configs.json');
  assert.is(await probeNodeImageId(fakeNode('load-node-1', images), PAUSE, cache), digest('2'));
  assert.not.ok(existsSync(cache));
  // The node already has the image: the build skips the transfer, and still records the digests.
  const outcome = await loadImageIntoNode(fakeNode('load-node-2', images), 'echo:1', { docker: fakeDocker(digest('1')), configCache: cache });
  assert.equal(outcome, { ref: ECHO, id: digest('1'), skipped: true });
  assert.equal(JSON.parse(readFileSync(cache, 'utf8')), { [digest('b')]: digest('2'), [digest('a')]: digest('1') });
});

test.run();
