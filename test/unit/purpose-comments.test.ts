// Every file under tasks/ opens with a comment saying what it is for (after a #! line where there is one):
// `//` in TypeScript, `#` in shell, Dockerfile and sources files, a `# ` heading in Markdown.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repo } from '../lib/scratch-root.ts';

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

test('every file under tasks/ starts with a purpose comment', () => {
  const all = files(join(repo, 'tasks'));
  assert.ok(all.length > 40, `only ${all.length} files found`);
  const missing = all.filter((path) => {
    const lines = readFileSync(path, 'utf8').split('\n');
    const first = lines[0]!.startsWith('#!') ? lines[1]! : lines[0]!;
    const marker = path.endsWith('.ts') ? '// ' : '# ';
    return !first.startsWith(marker) || first.trim().length < marker.length + 10;
  });
  assert.equal(missing.map((path) => relative(repo, path)), []);
});

test.run();
