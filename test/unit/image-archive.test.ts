// Image archives written without Docker (lib/image-archive.ts): the layout `docker save` writes, read back
// with tar-stream as ctr and Docker read it; IDs that depend on content alone; the archive's ID read from
// its head; a torn or foreign file read as no image. (test/integration/images.test.ts loads the archives
// into containerd and Docker for real.)

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { archiveImageId, archiveImages, writeImageArchive, type ImageEntry } from '../../lib/image-archive.ts';

const dir = mkdtempSync(join(tmpdir(), 'harder-image-archive-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

type Entry = { header: Header; body: Buffer };

/** Every entry of a tar file (or of a tar held in a buffer), in order. */
async function readTar(source: string | Buffer): Promise<Entry[]> {
  const entries: Entry[] = [];
  const reader = extract();
  reader.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      entries.push({ header, body: Buffer.concat(chunks) });
      next();
    });
  });
  const input = typeof source === 'string' ? createReadStream(source) : (async function* () { yield source; })();
  await pipeline(input, reader);
  return entries;
}

const entries: ImageEntry[] = [
  { path: '/bin/tool', content: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
  { path: '/bin/sh', symlink: '/bin/tool' },
  { path: '/tmp', directory: true, mode: 0o1777 },
  { path: '/etc/app/config.yaml', content: 'a: 1\n' },
];
const settings = { user: '65534:65534', entrypoint: ['/bin/tool'], exposedPorts: ['53', '53/udp'], env: ['PATH=/bin'] };

test('the docker-save layout: manifest.json first, the config named by its digest, one layer whose digest is the diff ID', async () => {
  const archive = await writeImageArchive(join(dir, 'a.tar'), { refs: ['example.test/tool:1'], entries, settings, architecture: 'amd64' });
  const outer = await readTar(archive.path);
  assert.is(outer[0]!.header.name, 'manifest.json');
  const manifest = JSON.parse(outer[0]!.body.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
  assert.equal(manifest[0]!.RepoTags, ['example.test/tool:1']);
  const configEntry = outer.find((e) => e.header.name === manifest[0]!.Config)!;
  const configDigest = `sha256:${createHash('sha256').update(configEntry.body).digest('hex')}`;
  assert.is(archive.id, configDigest, 'the image ID is the config digest');
  assert.is(`${archive.id.slice(7)}.json`, manifest[0]!.Config);
  const config = JSON.parse(configEntry.body.toString());
  assert.equal(config.config, { User: '65534:65534', ExposedPorts: { '53/tcp': {}, '53/udp': {} }, Env: ['PATH=/bin'], Entrypoint: ['/bin/tool'] });
  assert.is(config.architecture, 'amd64');
  assert.is(config.os, 'linux');
  const layer = outer.find((e) => e.header.name === manifest[0]!.Layers[0])!;
  assert.equal(config.rootfs, { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layer.body).digest('hex')}`] });
  assert.is(manifest[0]!.Layers[0], `${config.rootfs.diff_ids[0].slice(7)}/layer.tar`);

  // The layer: parents before children, each once, owned by root, with the modes and link given.
  const files = await readTar(layer.body);
  assert.equal(files.map((f) => `${f.header.type} ${f.header.name} ${(f.header.mode! & 0o7777).toString(8)}`), [
    'directory bin/ 755',
    'symlink bin/sh 777',
    'file bin/tool 755',
    'directory etc/ 755',
    'directory etc/app/ 755',
    'file etc/app/config.yaml 644',
    'directory tmp/ 1777',
  ]);
  assert.is(files[1]!.header.linkname, '/bin/tool');
  assert.is(files[2]!.body.toString(), '#!/bin/sh\necho hi\n');
  assert.ok(files.every((f) => f.header.uid === 0 && f.header.gid === 0 && f.header.mtime!.getTime() === 0));
});

test('content alone decides the ID: the same entries in another order give the same bytes; one changed byte another ID', async () => {
  const a = await writeImageArchive(join(dir, 'b1.tar'), { refs: ['example.test/tool:1'], entries, settings });
  const b = await writeImageArchive(join(dir, 'b2.tar'), { refs: ['example.test/tool:1'], entries: [...entries].reverse(), settings });
  assert.is(a.id, b.id);
  const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  assert.is(hash(a.path), hash(b.path));
  const c = await writeImageArchive(join(dir, 'b3.tar'), { refs: ['example.test/tool:1'], entries: [{ ...entries[0]!, content: Buffer.from('#!/bin/sh\necho ho\n') } as ImageEntry, ...entries.slice(1)], settings });
  assert.is.not(c.id, a.id);
  const d = await writeImageArchive(join(dir, 'b4.tar'), { refs: ['example.test/tool:1'], entries, settings: { ...settings, user: '0:0' } });
  assert.is.not(d.id, a.id, 'the settings are part of the config, so of the ID');
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('.')), [], 'no temporary file left');
});

test('archiveImageId reads the ID from the head; a missing, torn or foreign file is no image', async () => {
  const a = await writeImageArchive(join(dir, 'c.tar'), { refs: ['example.test/tool:1'], entries, settings });
  assert.is(await archiveImageId(a.path), a.id);
  assert.is(await archiveImageId(join(dir, 'missing.tar')), undefined);
  writeFileSync(join(dir, 'foreign.tar'), 'not a tar at all');
  assert.is(await archiveImageId(join(dir, 'foreign.tar')), undefined);
  truncateSync(a.path, 300);
  assert.is(await archiveImageId(a.path), undefined);
});

test('a path that is not absolute is refused by name', async () => {
  try {
    await writeImageArchive(join(dir, 'd.tar'), { refs: ['x:1'], entries: [{ path: 'bin/tool', content: 'x' }], settings: {} });
    assert.unreachable('accepted a relative path');
  } catch (error) {
    assert.match((error as Error).message, 'image entry "bin/tool": an absolute path below / is needed');
  }
});

test('archiveImages: the ID of a name is its archive\'s; a stream holds one archive', async () => {
  const a = await writeImageArchive(join(dir, 'e1.tar'), { refs: ['example.test/a:1'], entries, settings });
  const b = await writeImageArchive(join(dir, 'e2.tar'), { refs: ['example.test/b:1'], entries, settings: {} });
  const images = archiveImages([a, b]);
  assert.is(await images.id('example.test/a:1'), a.id);
  assert.is(await images.id('example.test/c:1'), undefined);
  const chunks: Buffer[] = [];
  for await (const chunk of await images.save(['example.test/b:1'])) chunks.push(chunk as Buffer);
  const streamed = await readTar(Buffer.concat(chunks));
  assert.is(streamed[0]!.header.name, 'manifest.json');
  try {
    await images.save(['example.test/a:1', 'example.test/b:1']);
    assert.unreachable('two archives in one stream');
  } catch (error) {
    assert.match((error as Error).message, 'are not the names of one archive');
  }
});

test.run();
