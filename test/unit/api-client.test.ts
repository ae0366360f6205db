// The plain-HTTP GET of tasks/cluster/api-client.ts (kube-proxy's health gate) against real HTTP servers on
// loopback: the status and body it reads, a refused connection and a server that never answers.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpGet } from '../../tasks/cluster/api-client.ts';

/** A server on a free loopback port; `handle` answers or, returning false, never does. */
async function serve(handle: (path: string) => { status: number; body: string } | false): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const answer = handle(req.url ?? '/');
    if (!answer) return; // hangs until the client gives up
    res.writeHead(answer.status, { 'content-type': 'text/plain' });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('reads the status and body of a 200 and of a 503', async () => {
  const { url, server } = await serve((path) => (path === '/healthz' ? { status: 200, body: 'ok' } : { status: 503, body: 'not ready: iptables sync' }));
  try {
    assert.equal(await httpGet(`${url}/healthz`), { status: 200, body: 'ok' });
    assert.equal(await httpGet(`${url}/other`), { status: 503, body: 'not ready: iptables sync' });
  } finally {
    server.close();
  }
});

test('a refused connection rejects', async () => {
  const { url, server } = await serve(() => ({ status: 200, body: 'ok' }));
  await new Promise((resolve) => server.close(resolve));
  const error = await httpGet(`${url}/healthz`).then(() => undefined, (e: Error) => e);
  assert.match(String(error?.message), /ECONNREFUSED/);
});

test('a server that never answers rejects once the bound has passed', async () => {
  const { url, server } = await serve(() => false);
  try {
    const started = performance.now();
    const error = await httpGet(`${url}/healthz`, { timeoutMs: 300, signal: new AbortController().signal }).then(() => undefined, (e: Error) => e);
    assert.is(error?.message, `${url}/healthz: no answer within 0.3 s`);
    assert.ok(performance.now() - started < 2000, 'gave up near its bound');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test.run();
