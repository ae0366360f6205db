// The bundle's folder as one `.tar.gz` beside it, to attach to an issue. tar-stream (already what the
// Docker contexts are built with) and node:zlib, not the host's `tar`: no host tool to require or find,
// and a file is streamed from disk, never held whole in memory. Entries are sorted, under the folder's name.

import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/** Every regular file under `dir`, relative, `/`-separated, sorted. */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out;
}

/** Writes `<dir>.tar.gz` (through a temp name, so a half-written archive is never left under the final one); returns its path and size. */
export async function tarGz(dir: string): Promise<{ path: string; bytes: number; files: string[] }> {
  const tar = await import('tar-stream');
  const name = basename(dir);
  const path = join(dirname(dir), `${name}.tar.gz`);
  const temp = `${path}.tmp-${process.pid}`;
  const files = await filesUnder(dir);
  const pack = tar.pack();
  const writing = pipeline(pack, createGzip(), createWriteStream(temp, { mode: 0o644 }));
  for (const file of files) {
    const info = await stat(join(dir, file));
    const entry = pack.entry({ name: `${name}/${file}`, size: info.size, mode: 0o644, mtime: info.mtime, type: 'file' });
    await pipeline(createReadStream(join(dir, file)), entry);
  }
  pack.finalize();
  await writing;
  await rename(temp, path);
  return { path, bytes: (await stat(path)).size, files };
}
