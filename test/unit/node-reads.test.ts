// Every file a node install target writes is in its node's batched read: the install probe decides from
// that read alone, so a file missing from it looks missing on every run and the target rebuilds each time
// (as the CNI conflist install did when a wrapper copied the target and dropped its declared reads). Every image
// load's node lists its images in the same read, so a no-op run makes no exec per image.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeReadsOf } from '../../lib/node/fleet.ts';
import { IMAGE_LISTING, IMAGE_LISTING_READ } from '../../lib/docker/load-image.ts';
import { projectTargets } from '../../tasks/index.ts';
import { defaultConfig } from '../../tasks/config/config.ts';

test('each install:<node>:<file> target is covered by the batched read of its node', () => {
  const targets = projectTargets(defaultConfig);
  const reads = nodeReadsOf(targets);
  const installs = targets.filter((t) => /^install:[^:]+:/.test(t.name) && 'path' in (t.inputs?.values ?? {}));
  assert.ok(installs.length > 40, `only ${installs.length} install targets`);
  for (const t of installs) {
    const node = t.name.split(':')[1]!;
    const path = String(t.inputs!.values!['path']);
    const query = reads.get(node);
    const covered = query && (query.files.includes(path) || (query.binaries ?? []).includes(path));
    assert.ok(covered, `${t.name} writes ${path}, which ${node}'s batched read does not include`);
  }
});

test("each load:<image>@<node> target's node reads its image listing in the batched read", () => {
  const targets = projectTargets(defaultConfig);
  const reads = nodeReadsOf(targets);
  const loads = targets.filter((t) => t.name.startsWith('load:'));
  assert.ok(loads.length >= 6, `only ${loads.length} load targets`);
  for (const t of loads) {
    const node = t.name.slice(t.name.lastIndexOf('@') + 1);
    assert.equal(reads.get(node)?.commands?.[IMAGE_LISTING_READ], IMAGE_LISTING, `${node}'s batched read lists no images for ${t.name}`);
  }
});

test.run();
