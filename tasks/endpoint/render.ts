// The API endpoint's HAProxy configuration, rendered from the control planes: TCP passthrough to every
// apiserver, each health-checked on /readyz over TLS. Pure (unit-tested in test/unit/endpoint.test.ts).

import { createHash } from 'node:crypto';

/** Where the config lives in the endpoint container; the image's ENTRYPOINT runs `haproxy -W -f` on it. */
export const HAPROXY_CONFIG = '/etc/haproxy/haproxy.cfg';
/** The runtime API (stats socket): `show info` names the running config, `show stat` the servers' states. */
export const HAPROXY_SOCKET = '/run/haproxy-admin.sock';

/** The shell command, run in the endpoint's container, that sends one runtime API command and prints HAProxy's answer. */
export function runtimeApiCommand(command: string): string {
  return `echo '${command}' | socat -t 2 stdio UNIX-CONNECT:${HAPROXY_SOCKET}`;
}

/** runtimeApiCommand as an argv for an exec. */
export function runtimeApiArgv(command: string): string[] {
  return ['sh', '-c', runtimeApiCommand(command)];
}
/** `global description` of the running config: this prefix and the hash of the rest of the file. */
export const CONFIG_ID_PREFIX = 'harder-config-';

export type Backend = { name: string; ip: string };

export type EndpointConfigInput = {
  /** The apiservers, in node order. */
  backends: Backend[];
  /** The apiservers' port; the endpoint listens on the same port on its own address. */
  port: number;
};

export type RenderedConfig = { text: string; id: string };

/**
 * Why each setting:
 * - `mode tcp`: TLS passes through to the apiservers, so clients authenticate to them with their own
 *   certificates (the endpoint holds no key, and the apiserver sees the client's identity).
 * - health checks: `GET /readyz` over TLS (`check-ssl`) every 2 s; 2 failures mark a server down
 *   (within ~4 s of the apiserver stopping), 2 successes bring it back. `/readyz` is readable
 *   anonymously (system:public-info-viewer). `verify none`: the check only reads a status code and sends
 *   no secret; clients still verify the apiserver's certificate end to end through the passthrough, so a
 *   wrong answer could only route them to a server whose certificate they then refuse.
 * - `on-marked-down shutdown-sessions`: connections to a server marked down are closed, so a client
 *   watching through a dead apiserver (a frozen container sends no FIN) reconnects to a live one at once.
 * - `retries` + `option redispatch`: a connection refused by a server not yet marked down is retried on
 *   another, so the window before the check notices costs no request.
 * - `option tcplog`: each connection is logged when it closes, naming the server it went to (`docker logs
 *   <cluster>-api`), so "which apiserver answered" has an answer; health checks are not connections.
 * - long client/server timeouts: watches and exec streams stay open and idle for minutes.
 * - `expose-fd listeners` on the socket: on a reload (`-W`, SIGUSR2) the new worker takes the listening
 *   socket over from the old one, so no connection attempt is refused during the reload; the old worker
 *   finishes its established connections (bounded by `hard-stop-after`).
 * - `description`: the running config's id (its content hash), which the probe reads back through the
 *   runtime API to tell the running config from the file on disk.
 */
export function renderHaproxyConfig(input: EndpointConfigInput): RenderedConfig {
  if (input.backends.length === 0) throw new Error('the API endpoint needs at least one control plane to send connections to');
  const body = (id: string) =>
    [
      '# The API endpoint: HAProxy in front of every kube-apiserver (rendered by tasks/endpoint/render.ts).',
      'global',
      `  description ${id}`,
      `  stats socket ${HAPROXY_SOCKET} mode 600 level admin expose-fd listeners`,
      '  log stdout format raw local0 info',
      '  hard-stop-after 10m',
      '',
      'defaults',
      '  mode tcp',
      '  log global',
      '  option tcplog',
      '  timeout connect 3s',
      '  timeout client 1h',
      '  timeout server 1h',
      '  timeout check 2s',
      '  retries 2',
      '  option redispatch',
      '',
      'frontend kube-apiserver',
      `  bind :${input.port}`,
      '  default_backend kube-apiservers',
      '',
      'backend kube-apiservers',
      '  balance leastconn',
      '  option httpchk GET /readyz',
      '  http-check expect status 200',
      '  default-server check check-ssl verify none inter 2s fall 2 rise 2 on-marked-down shutdown-sessions',
      ...input.backends.map((b) => `  server ${b.name} ${b.ip}:${input.port}`),
      '',
    ].join('\n');
  // The id is the hash of the file with a fixed placeholder in its place, so it can sit inside the file.
  const id = `${CONFIG_ID_PREFIX}${createHash('sha256').update(body('ID')).digest('hex').slice(0, 16)}`;
  return { text: body(id), id };
}

/** The `Description:` field of the runtime API's `show info` output (the running config's id), or undefined. */
export function runningConfigId(showInfo: string): string | undefined {
  return /^Description:\s*(\S+)\s*$/im.exec(showInfo)?.[1];
}

export type ServerState = { backend: string; server: string; status: string; checkStatus: string };

/** The servers of `show stat` (CSV: `# pxname,svname,…,status,…,check_status,…`), frontends and backend totals left out. */
export function serverStates(showStat: string): ServerState[] {
  const lines = showStat.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.replace(/^#\s*/, '').split(',');
  if (!header) return [];
  const col = (name: string) => header.indexOf(name);
  const [px, sv, status, check] = [col('pxname'), col('svname'), col('status'), col('check_status')];
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((f) => f[sv] !== 'FRONTEND' && f[sv] !== 'BACKEND')
    .map((f) => ({ backend: f[px] ?? '', server: f[sv] ?? '', status: f[status] ?? '', checkStatus: f[check] ?? '' }));
}
