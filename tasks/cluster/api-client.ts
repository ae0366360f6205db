// A minimal HTTPS client for the Kubernetes API and kubelets from the host, with or without a client
// certificate, and plain-HTTP GETs of health ports. Probes use it instead of spawning kubectl: a GET takes
// milliseconds.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as plainRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent, request } from 'node:https';
import { createSecureContext } from 'node:tls';

export type TlsIdentity = { ca: string; cert?: string; key?: string };

export type ApiResponse = { status: number; body: string };

/** Reads PEM files once; `cert`/`key` omitted means an anonymous request. */
export function loadIdentity(paths: { ca: string; cert?: string; key?: string }): TlsIdentity {
  return {
    ca: readFileSync(paths.ca, 'utf8'),
    ...(paths.cert ? { cert: readFileSync(paths.cert, 'utf8') } : {}),
    ...(paths.key ? { key: readFileSync(paths.key, 'utf8') } : {}),
  };
}

const agents = new Map<string, Agent>();

/**
 * One agent per identity (by content: a re-issued cert gets a new one), holding the parsed TLS context:
 * parsing CA, cert and key for every request cost more CPU than the request. The agent also resumes TLS
 * sessions, which is why it is never shared between identities (a resumed session keeps its client
 * cert). No keep-alive: an idle pooled socket to an apiserver that restarts would fail the next request.
 */
function agentFor(identity: TlsIdentity): Agent {
  const id = createHash('sha256').update(identity.ca).update('\0').update(identity.cert ?? '').update('\0').update(identity.key ?? '').digest('hex');
  let agent = agents.get(id);
  if (!agent) {
    agent = new Agent({ keepAlive: false, secureContext: createSecureContext({ ca: identity.ca, cert: identity.cert, key: identity.key }) });
    agents.set(id, agent);
  }
  return agent;
}

export function apiRequest(
  url: string,
  identity: TlsIdentity | { insecure: true },
  opts: { method?: string; body?: string; contentType?: string; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ApiResponse> {
  const tls = 'insecure' in identity ? { rejectUnauthorized: false, agent: false as const } : { agent: agentFor(identity) };
  const headers = { accept: 'application/json', ...(opts.body ? { 'content-type': opts.contentType ?? 'application/json' } : {}) };
  return exchange(request, url, { method: opts.method ?? 'GET', ...tls, headers, signal: opts.signal }, opts.body, opts.timeoutMs ?? 5000);
}

/**
 * A plain-HTTP GET, for a health port without TLS (kube-proxy's healthz). node:http, not fetch(): a no-op
 * run asks kube-proxy's once per gate, at the end of its critical path, and fetch's first call loads undici
 * (~20 ms of CPU here) where node:http is already loaded with node:https.
 */
export function httpGet(url: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ApiResponse> {
  return exchange(plainRequest, url, { signal: opts.signal }, undefined, opts.timeoutMs ?? 5000);
}

/** One request made by `send` (node:https's or node:http's), its whole answer read; an error past `timeoutMs`. */
function exchange<O extends object>(
  send: (url: string, options: O & { timeout: number }, onResponse: (res: IncomingMessage) => void) => ClientRequest,
  url: string,
  options: O,
  body: string | undefined,
  timeoutMs: number,
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = send(url, { ...options, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

type NodeCondition = { type: string; status: string; reason?: string; message?: string };
type NodeObject = { metadata: { name: string }; status?: { conditions?: NodeCondition[] } };

/** Ready status of each registered node, by name ("True", "False", "Unknown"). */
export async function nodeReadiness(apiServerUrl: string, admin: TlsIdentity, signal?: AbortSignal): Promise<Map<string, string>> {
  const res = await apiRequest(`${apiServerUrl}/api/v1/nodes`, admin, { signal });
  if (res.status !== 200) throw new Error(`GET /api/v1/nodes answered ${res.status}: ${res.body.slice(0, 200)}`);
  const list = JSON.parse(res.body) as { items: NodeObject[] };
  const out = new Map<string, string>();
  for (const node of list.items) out.set(node.metadata.name, node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown');
  return out;
}

const readinessMemo = new Map<string, { at: number; value: Promise<Map<string, string>> }>();

/** nodeReadiness shared by the probes of one run (every `ready:<worker>:node` asks within a moment). */
export function probeNodeReadiness(apiServerUrl: string, admin: TlsIdentity): Promise<Map<string, string>> {
  const hit = readinessMemo.get(apiServerUrl);
  if (hit && performance.now() - hit.at < 1000) return hit.value;
  const value = nodeReadiness(apiServerUrl, admin);
  readinessMemo.set(apiServerUrl, { at: performance.now(), value });
  value.catch(() => readinessMemo.delete(apiServerUrl));
  return value;
}
