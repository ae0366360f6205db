// Verified downloads: fetch into a temp file beside the destination, check its digest, then rename it
// into place. A partial, truncated or corrupt file therefore never appears under the final name.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HarderError } from './errors.ts';

export type DigestAlgorithm = 'sha256' | 'sha512';

/** An expected digest: what the publisher says the file hashes to. */
export type Digest = { algorithm: DigestAlgorithm; hex: string };

/** Base class of download failures (kind download-failed): one clear message naming the URL, plus a hint for the user. */
export class DownloadError extends HarderError<'download-failed'> {
  constructor(url: string, message: string, hint?: string, options: { cause?: unknown; status?: number } = {}) {
    super('download-failed', message, options.status === undefined ? { url } : { url, status: options.status }, { hint, cause: options.cause });
  }
  get url(): string {
    return this.facts.url;
  }
}

/** The file arrived whole but does not hash to the published digest. The bad file is deleted. */
export class ChecksumMismatchError extends DownloadError {
  expected: Digest;
  actual: string;
  constructor(url: string, expected: Digest, actual: string) {
    super(
      url,
      `checksum mismatch for ${url}: expected ${expected.algorithm} ${expected.hex}, got ${actual}; the file was deleted`,
      'the server or mirror serves a different or corrupted file: check the mirror base URL, or retry later',
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** The connection ended before the announced length arrived. The partial file is deleted. */
export class TruncatedDownloadError extends DownloadError {}

/** Nothing answered (refused, DNS failure, timeout) at the URL's host. */
export class ServerUnreachableError extends DownloadError {}

/** The server answered with a non-2xx status. */
export class HttpStatusError extends DownloadError {
  constructor(url: string, status: number, statusText: string) {
    super(
      url,
      `GET ${url} answered ${status} ${statusText}`.trimEnd(),
      status === 404 ? 'the file does not exist there: check the version and the mirror base URL' : undefined,
      { status },
    );
  }
  get status(): number {
    return this.facts.status!;
  }
}

/** Joins a base URL and a relative path with exactly one slash (for mirror base URLs). */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** The hex digest of a file on disk. */
export async function fileDigest(path: string, algorithm: DigestAlgorithm = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Parses a checksum file: either a bare digest (dl.k8s.io's `kubelet.sha256`) or `sha256sum` output
 * (`<hex>  <name>` lines; `fileName` picks the line when there are several).
 */
export function parseChecksumFile(text: string, algorithm: DigestAlgorithm, fileName?: string): string | undefined {
  const length = algorithm === 'sha256' ? 64 : 128;
  const pattern = new RegExp(`^([0-9a-fA-F]{${length}})(?:\\s+\\*?(.+))?$`);
  let first: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const match = pattern.exec(line.trim());
    if (!match) continue;
    const hex = match[1]!.toLowerCase();
    const name = match[2]?.trim();
    if (fileName !== undefined && name !== undefined && basename(name) === fileName) return hex;
    first ??= hex;
  }
  return first;
}

/** Why a fetch failed before any response, in a form that names the low-level cause. */
function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

const UNREACHABLE_HINT = 'check the network, or configure a mirror base URL that serves the same files';

/** fetch() with a timeout for the response headers; network failures become ServerUnreachableError. */
async function request(url: string, init: { method?: string; signal?: AbortSignal; timeoutMs: number }): Promise<Response> {
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  try {
    return await fetch(url, { method: init.method ?? 'GET', signal, redirect: 'follow' });
  } catch (error) {
    init.signal?.throwIfAborted();
    const reason = timeout.aborted ? `no answer within ${init.timeoutMs} ms` : describeNetworkError(error);
    throw new ServerUnreachableError(url, `cannot reach ${new URL(url).host} for ${url}: ${reason}`, UNREACHABLE_HINT, { cause: error });
  }
}

/** Fetches a published checksum file and returns the digest it states. */
export async function fetchChecksum(
  url: string,
  algorithm: DigestAlgorithm,
  options: { fileName?: string; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<Digest> {
  const response = await request(url, { signal: options.signal, timeoutMs: options.timeoutMs ?? 30_000 });
  if (!response.ok) throw new HttpStatusError(url, response.status, response.statusText);
  let text: string;
  try {
    text = await response.text();
  } catch (error) {
    throw new TruncatedDownloadError(url, `the checksum file ${url} was cut off: ${describeNetworkError(error)}`, 'retry', { cause: error });
  }
  const hex = parseChecksumFile(text, algorithm, options.fileName);
  if (!hex) {
    throw new DownloadError(url, `${url} holds no ${algorithm} digest`, 'check that the mirror serves the checksum files next to the binaries');
  }
  return { algorithm, hex };
}

/**
 * Whether a URL answers at all (any HTTP status counts), within a short timeout. Used to choose a source
 * automatically, so it never throws.
 */
export async function probeUrl(url: string, timeoutMs = 3000): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    const response = await request(url, { method: 'HEAD', timeoutMs });
    return response.status < 500 ? { ok: true } : { ok: false, reason: `answered ${response.status}` };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

export type DownloadOptions = {
  url: string;
  /** Final path; written only after the digest matched. */
  dest: string;
  /** The published digest the file must match. */
  expected: Digest;
  /** File mode set before the rename (0o755 for binaries). */
  mode?: number;
  signal?: AbortSignal;
  /** Time allowed for the response headers (the body may take longer). Default 30 s. */
  timeoutMs?: number;
  /** Called as bytes arrive (total is undefined when the server sends no Content-Length). */
  onProgress?: (received: number, total: number | undefined) => void;
};

export type DownloadResult = {
  path: string;
  bytes: number;
  /** sha256 of the file, whatever algorithm was verified (results are keyed by sha256). */
  sha256: string;
  /** True when dest already held a file with the expected digest and nothing was fetched. */
  reused: boolean;
};

/**
 * Downloads `url` to `dest` and verifies it against `expected`. If `dest` already holds a file with the
 * expected digest, it is reused. On any failure (unreachable, HTTP error, truncated body, mismatch)
 * nothing is left at `dest` or in the temp file.
 */
export async function downloadVerified(options: DownloadOptions): Promise<DownloadResult> {
  const { url, dest, expected } = options;
  await mkdir(dirname(dest), { recursive: true });
  const existing = await verifyExisting(dest, expected);
  if (existing) return existing;

  const response = await request(url, { signal: options.signal, timeoutMs: options.timeoutMs ?? 30_000 });
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new HttpStatusError(url, response.status, response.statusText);
  }
  const lengthHeader = response.headers.get('content-length');
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;

  // Same directory as dest, so the final rename is atomic; random suffix so parallel runs never collide.
  const temp = join(dirname(dest), `.${basename(dest)}.part-${process.pid}-${randomBytes(4).toString('hex')}`);
  const main = createHash(expected.algorithm);
  const sha256 = expected.algorithm === 'sha256' ? main : createHash('sha256');
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      received += chunk.length;
      main.update(chunk);
      if (sha256 !== main) sha256.update(chunk);
      options.onProgress?.(received, total);
      done(null, chunk);
    },
  });
  try {
    try {
      // Readable.fromWeb: fetch gives a web stream; pipeline needs a Node stream.
      const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
      await pipeline(body, meter, createWriteStream(temp, { mode: 0o600 }), { signal: options.signal });
    } catch (error) {
      options.signal?.throwIfAborted();
      throw new TruncatedDownloadError(
        url,
        `download of ${url} was cut off after ${received} of ${total ?? 'unknown'} bytes (${describeNetworkError(error)}); nothing was kept`,
        'retry; if it keeps failing, the server or a proxy drops long transfers: try a mirror',
        { cause: error },
      );
    }
    if (total !== undefined && received !== total) {
      throw new TruncatedDownloadError(url, `download of ${url} ended after ${received} of ${total} bytes; nothing was kept`, 'retry');
    }
    const actual = main.digest('hex');
    if (actual !== expected.hex.toLowerCase()) throw new ChecksumMismatchError(url, expected, actual);
    const sha256Hex = sha256 === main ? actual : sha256.digest('hex');
    await chmod(temp, options.mode ?? 0o644);
    await rename(temp, dest);
    return { path: dest, bytes: received, sha256: sha256Hex, reused: false };
  } finally {
    await rm(temp, { force: true });
  }
}

/** When dest holds exactly the expected file, describes it; a stale or corrupt file there is removed. */
async function verifyExisting(dest: string, expected: Digest): Promise<DownloadResult | undefined> {
  const info = await stat(dest).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const actual = await fileDigest(dest, expected.algorithm);
  if (actual !== expected.hex.toLowerCase()) {
    await rm(dest, { force: true });
    return undefined;
  }
  const sha256 = expected.algorithm === 'sha256' ? actual : await fileDigest(dest, 'sha256');
  return { path: dest, bytes: info.size, sha256, reused: true };
}
