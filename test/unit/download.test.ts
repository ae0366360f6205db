// Verified downloads against a real HTTP server on 127.0.0.1: good file, bad checksum, truncated
// transfer, server down, mirror base URL; the cache directory must only ever hold verified files.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChecksumMismatchError,
  HttpStatusError,
  ServerUnreachableError,
  TruncatedDownloadError,
  downloadVerified,
  fetchChecksum,
  joinUrl,
  parseChecksumFile,
  probeUrl,
} from '../../lib/download.ts';

const good = randomBytes(256 * 1024 + 17);
const other = randomBytes(1000);
const hex = (algorithm: string, data: Buffer) => createHash(algorithm).update(data).digest('hex');

/** Serves files under `prefix`; counts requests so tests can tell a reuse from a download. */
function startServer(prefix: string): Promise<{ server: Server; base: string; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (!path.startsWith(prefix)) {
      res.writeHead(404).end('not here');
      return;
    }
    const name = path.slice(prefix.length);
    const send = (body: Buffer | string) => {
      res.writeHead(200, { 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    switch (name) {
      case 'good.bin':
        return send(good);
      case 'good.bin.sha256':
        return send(`${hex('sha256', good)}\n`);
      case 'good.bin.sha512':
        return send(`${hex('sha512', other)}  other.bin\n${hex('sha512', good)}  good.bin\n`);
      case 'bad.bin':
        return send(other); // its checksum file below describes `good`, so it must be rejected
      case 'bad.bin.sha256':
        return send(hex('sha256', good));
      case 'truncated.bin': {
        // Announce the whole file, send half of it, then drop the connection.
        res.writeHead(200, { 'content-length': good.length });
        res.write(good.subarray(0, good.length / 2), () => res.destroy());
        return;
      }
      default:
        res.writeHead(404).end('no such file');
    }
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, base: `http://127.0.0.1:${port}${prefix.replace(/\/$/, '')}`, hits });
    });
  });
}

let origin: Awaited<ReturnType<typeof startServer>>;
let mirror: Awaited<ReturnType<typeof startServer>>;
let cache: string;

/** Every entry of the cache directory must be a complete, verified file: no temp or partial files. */
async function assertCacheHoldsOnly(expected: string[]): Promise<void> {
  const entries = (await readdir(cache)).sort();
  assert.equal(entries, [...expected].sort(), `cache holds ${entries.join(', ') || 'nothing'}`);
  for (const name of entries) assert.equal(hex('sha256', await readFile(join(cache, name))), hex('sha256', good), `${name} is verified`);
}

test.before(async () => {
  origin = await startServer('/release/');
  mirror = await startServer('/some/mirror/path/');
});

test.before.each(async () => {
  cache = await mkdtemp(join(tmpdir(), 'harder-download-'));
});

test.after.each(async () => {
  await rm(cache, { recursive: true, force: true });
});

test.after(() => {
  origin.server.close();
  mirror.server.close();
});

test('parses bare digests and sha256sum-style lines', () => {
  const digest = hex('sha256', good);
  assert.is(parseChecksumFile(`${digest.toUpperCase()}\n`, 'sha256'), digest);
  assert.is(parseChecksumFile(`${hex('sha256', other)}  a\n${digest} *b\n`, 'sha256', 'b'), digest);
  assert.is(parseChecksumFile('not a digest', 'sha256'), undefined);
  assert.is(parseChecksumFile(digest, 'sha512'), undefined, 'a sha256 is not a sha512');
});

test('good file: verified against its sha256 file, renamed into the cache, then reused', async () => {
  const expected = await fetchChecksum(joinUrl(origin.base, 'good.bin.sha256'), 'sha256');
  const dest = join(cache, 'good.bin');
  let progress = 0;
  const first = await downloadVerified({ url: joinUrl(origin.base, 'good.bin'), dest, expected, mode: 0o755, onProgress: (n) => (progress = n) });
  assert.is(first.reused, false);
  assert.is(first.bytes, good.length);
  assert.is(progress, good.length);
  assert.is(first.sha256, hex('sha256', good));
  assert.ok(((await stat(dest)).mode & 0o777) === 0o755, 'mode applied');
  await assertCacheHoldsOnly(['good.bin']);

  const before = origin.hits.get('/release/good.bin');
  const second = await downloadVerified({ url: joinUrl(origin.base, 'good.bin'), dest, expected });
  assert.is(second.reused, true);
  assert.is(origin.hits.get('/release/good.bin'), before, 'a verified file in the cache is not fetched again');
});

test('good file verified by sha512 from a multi-line checksum file', async () => {
  const expected = await fetchChecksum(joinUrl(origin.base, 'good.bin.sha512'), 'sha512', { fileName: 'good.bin' });
  assert.is(expected.hex, hex('sha512', good));
  const result = await downloadVerified({ url: joinUrl(origin.base, 'good.bin'), dest: join(cache, 'good.bin'), expected });
  assert.is(result.sha256, hex('sha256', good), 'the result is keyed by sha256 whatever was verified');
  await assertCacheHoldsOnly(['good.bin']);
});

test('bad checksum: clear error naming both digests, nothing kept', async () => {
  const expected = await fetchChecksum(joinUrl(origin.base, 'bad.bin.sha256'), 'sha256');
  try {
    await downloadVerified({ url: joinUrl(origin.base, 'bad.bin'), dest: join(cache, 'bad.bin'), expected });
    assert.unreachable('a mismatching file must be rejected');
  } catch (error) {
    assert.instance(error, ChecksumMismatchError);
    const message = (error as Error).message;
    assert.match(message, 'checksum mismatch');
    assert.match(message, expected.hex);
    assert.match(message, hex('sha256', other));
    assert.ok((error as ChecksumMismatchError).hint);
  }
  await assertCacheHoldsOnly([]);
});

test('a corrupt file already in the cache is replaced by a verified download', async () => {
  const dest = join(cache, 'good.bin');
  await writeFile(dest, 'corrupt');
  const result = await downloadVerified({ url: joinUrl(origin.base, 'good.bin'), dest, expected: { algorithm: 'sha256', hex: hex('sha256', good) } });
  assert.is(result.reused, false);
  await assertCacheHoldsOnly(['good.bin']);
});

test('truncated transfer: Content-Length larger than the body, connection closed', async () => {
  try {
    await downloadVerified({
      url: joinUrl(origin.base, 'truncated.bin'),
      dest: join(cache, 'truncated.bin'),
      expected: { algorithm: 'sha256', hex: hex('sha256', good) },
    });
    assert.unreachable('a cut-off transfer must fail');
  } catch (error) {
    assert.instance(error, TruncatedDownloadError);
    assert.match((error as Error).message, /cut off after \d+ of \d+ bytes/);
  }
  await assertCacheHoldsOnly([]);
});

test('HTTP 404 is an HttpStatusError naming the URL', async () => {
  try {
    await downloadVerified({ url: joinUrl(origin.base, 'nope.bin'), dest: join(cache, 'nope.bin'), expected: { algorithm: 'sha256', hex: '0'.repeat(64) } });
    assert.unreachable('a missing file must fail');
  } catch (error) {
    assert.instance(error, HttpStatusError);
    assert.is((error as HttpStatusError).status, 404);
    assert.match((error as Error).message, '/release/nope.bin');
  }
  await assertCacheHoldsOnly([]);
});

test('server down: a closed port is a ServerUnreachableError, and probeUrl says so without throwing', async () => {
  const closed = createServer();
  const port = await new Promise<number>((resolve) => closed.listen(0, '127.0.0.1', () => resolve((closed.address() as AddressInfo).port)));
  await new Promise((resolve) => closed.close(resolve));
  const url = `http://127.0.0.1:${port}/release/good.bin`;
  try {
    await downloadVerified({ url, dest: join(cache, 'good.bin'), expected: { algorithm: 'sha256', hex: hex('sha256', good) } });
    assert.unreachable('nothing listens there');
  } catch (error) {
    assert.instance(error, ServerUnreachableError);
    assert.match((error as Error).message, `cannot reach 127.0.0.1:${port}`);
    assert.match((error as Error).message, 'ECONNREFUSED');
  }
  try {
    await fetchChecksum(`${url}.sha256`, 'sha256');
    assert.unreachable('nothing listens there');
  } catch (error) {
    assert.instance(error, ServerUnreachableError);
  }
  const probe = await probeUrl(url, 1000);
  assert.is(probe.ok, false);
  assert.ok((await probeUrl(joinUrl(origin.base, 'good.bin'), 1000)).ok, 'a live server probes ok');
  await assertCacheHoldsOnly([]);
});

test('mirror base URL: the same relative paths under another base, trailing slashes tolerated', async () => {
  const base = `${mirror.base}/`;
  assert.is(joinUrl(base, '/good.bin'), `${mirror.base}/good.bin`);
  const expected = await fetchChecksum(joinUrl(base, 'good.bin.sha256'), 'sha256');
  const result = await downloadVerified({ url: joinUrl(base, 'good.bin'), dest: join(cache, 'good.bin'), expected });
  assert.is(result.sha256, hex('sha256', good));
  assert.is(mirror.hits.get('/some/mirror/path/good.bin'), 1, 'fetched from the mirror');
  await assertCacheHoldsOnly(['good.bin']);
});

test.run();
