// `endpoint:config`: the HAProxy config in the endpoint container, a target like every other. Its key is
// the rendered text, so adding a control plane rewrites it; the build checks it with `haproxy -c`, moves
// it into place and reloads the master (SIGUSR2: new workers take over the listening socket, the old
// ones finish their connections), then waits until the running config is the new one. The probe reads
// the file's hash and the running config's id (runtime API `show info`): either one differing is drift.
//
// Ordered after every configured apiserver's unit, and it waits for each backend's /readyz before the
// reload: HAProxy 2.6 counts a server it has just read as up until its checks fail, so a control plane
// being added must be serving before it is named here. A control plane being removed is taken out here
// first: its removal is ordered after this target (tasks/nodes/removal.ts).

import { createHash } from 'node:crypto';
import { target, type Target } from '../../lib/engine/target.ts';
import { StepError } from '../../lib/errors.ts';
import { readOnlyView, type NodeHandle } from '../../lib/node/handle.ts';
import { nodeFleet } from '../nodes/node-fleet.ts';
import type { EndpointContainerTarget } from './container.ts';
import { HAPROXY_CONFIG, renderHaproxyConfig, runningConfigId, runtimeApiCommand, type Backend } from './render.ts';

export type EndpointConfig = { container: string; id: string; configId: string; sha256: string; backends: string[] };
export type EndpointConfigTarget = Target<EndpointConfig, any>;

/** One read of the endpoint: the config file's sha256 and the running config's id ('' when HAProxy does not answer). */
async function readEndpoint(node: NodeHandle): Promise<{ fileSha: string; running: string; answer: string }> {
  const script = `sha256sum ${HAPROXY_CONFIG} 2>/dev/null | cut -d' ' -f1; echo '--'; ${runtimeApiCommand('show info')} 2>&1`;
  const res = await node.exec(['sh', '-c', script], { allowFailure: true, readOnly: true });
  const [file = '', info = ''] = res.stdout.toString('utf8').split('\n--\n');
  return { fileSha: file.trim(), running: runningConfigId(info) ?? '', answer: info.trim().split('\n')[0] ?? '' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until every backend answers /readyz as HAProxy's check will ask it: TLS, no client cert. */
async function waitBackendsReady(backends: Backend[], port: number, log: (m: string) => void, timeoutMs = 60_000): Promise<void> {
  const { apiRequest } = await import('../cluster/api-client.ts');
  const deadline = performance.now() + timeoutMs;
  for (const b of backends) {
    let last = '';
    while (performance.now() < deadline) {
      const res = await apiRequest(`https://${b.ip}:${port}/readyz`, { insecure: true }, { timeoutMs: 3000 }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (res.status === 200) break;
      last = `${res.status} ${res.body.slice(0, 80)}`;
      await sleep(500);
    }
    // Not fatal: HAProxy's own checks then keep it out until it is ready.
    if (performance.now() >= deadline) log(`${b.name} does not answer /readyz yet (${last}): HAProxy's checks will mark it up once it does`);
  }
}

export function endpointConfigTarget(backends: Backend[], port: number, deps: { container: EndpointContainerTarget }): EndpointConfigTarget {
  const rendered = renderHaproxyConfig({ backends, port });
  const sha256 = createHash('sha256').update(rendered.text).digest('hex');
  return target({
    name: 'endpoint:config',
    description: `HAProxy config of the API endpoint: ${backends.map((b) => b.name).join(', ')} health-checked on /readyz, reloaded without dropping connections`,
    // tasks/index.ts adds `after:*` entries (the apiserver units, the membership check) once the cluster step exists: ordering only.
    deps: { container: deps.container },
    inputs: { values: { configId: rendered.id, sha256 } },
    build: async (ctx): Promise<EndpointConfig> => {
      const { connectDocker } = await import('../../lib/docker/connect.ts');
      const container = ctx.deps.container.container;
      const node = nodeFleet.of(ctx).node(container);
      const result: EndpointConfig = { container, id: ctx.deps.container.id, configId: rendered.id, sha256, backends: backends.map((b) => `${b.name} ${b.ip}:${port}`) };
      const next = `${HAPROXY_CONFIG}.next`;
      await waitBackendsReady(backends, port, ctx.log);
      await node.putFile(next, rendered.text, 0o644);
      // Checked before it replaces the running one: a config HAProxy refuses never reaches the master.
      await node.exec(['haproxy', '-c', '-q', '-f', next]);
      await node.exec(['mv', '-f', next, HAPROXY_CONFIG]);
      let state = await readEndpoint(node);
      if (state.running === rendered.id) return result;
      // A just-(re)started container may not answer yet: its master reads the new file by itself then.
      const deadline = performance.now() + 15_000;
      let reloaded = false;
      while (performance.now() < deadline) {
        if (!reloaded && state.running !== '') {
          ctx.log(`reloading HAProxy in ${container} (${state.running} → ${rendered.id})`);
          await (await connectDocker()).getContainer(container).kill({ signal: 'SIGUSR2' });
          reloaded = true;
        }
        await sleep(300);
        state = await readEndpoint(node);
        if (state.running === rendered.id) return result;
      }
      const { execa } = await import('execa');
      const logs = await execa('docker', ['logs', '--tail', '20', container], { reject: false, all: true });
      throw new StepError(
        `HAProxy in ${container} is not running ${rendered.id} 15 s after the reload (runtime API: ${state.running || state.answer || 'no answer'}):\n${String(logs.all ?? '')}`,
        `see \`docker logs ${container}\``,
      );
    },
    probe: async (result, actx) => {
      const node = readOnlyView(nodeFleet.of(actx).node(result.container));
      let state = await readEndpoint(node);
      // Right after a `docker restart` the master is still starting: give it a moment (reads only).
      for (let i = 0; i < 10 && state.running === '' && state.fileSha === result.sha256; i++) {
        await sleep(300);
        state = await readEndpoint(node);
      }
      if (state.fileSha !== result.sha256) return `${HAPROXY_CONFIG} in ${result.container} ${state.fileSha ? 'was changed' : 'is missing'}`;
      if (state.running !== result.configId) return `HAProxy in ${result.container} runs ${state.running || `nothing (${state.answer || 'no answer'})`}, not ${result.configId}`;
      return undefined;
    },
  });
}
