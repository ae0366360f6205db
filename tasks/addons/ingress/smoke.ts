// What cluster:smoke checks when the Ingress add-on is on: the smoke workload behind an Ingress rule for
// demo.<domain>, reached from the host over HTTPS at the controller's address with the certificate checked
// against the cluster CA (as `curl --resolve … --cacert output/pki/ca.crt` does), and an unknown host
// answered by the controller's own 404.

import { sleep } from '../../cluster/node-targets.ts';
import type { SmokeAddonCheck } from '../../cluster/smoke-checks.ts';
import { toYamlDocuments } from '../../cluster/render/yaml.ts';
import { httpsGetVia, readIngressAddress, type HttpsAnswer } from './address.ts';
import { httpsIngress } from './manifests.ts';

/** Tries `get` for up to `seconds` until `done` says the answer is the awaited one (Traefik picks a new rule up within seconds). */
async function until(seconds: number, signal: AbortSignal, get: () => Promise<HttpsAnswer>, done: (a: HttpsAnswer) => boolean): Promise<HttpsAnswer | Error> {
  let last: HttpsAnswer | Error = new Error('not tried');
  for (let waited = 0; waited <= seconds; waited += 2) {
    if (waited > 0) await sleep(2000, signal);
    last = await get().catch((e: Error) => e);
    if (!(last instanceof Error) && done(last)) break;
  }
  return last;
}

const seen = (a: HttpsAnswer | Error) => (a instanceof Error ? a.message : `${a.status} "${a.body.trim().slice(0, 60)}", certificate CN=${a.peerCertificate.subject} (${a.peerCertificate.subjectaltname}) issued by ${a.peerCertificate.issuer}`);

export function ingressSmokeChecks(p: { domain: string; workerIps: readonly string[] }): SmokeAddonCheck[] {
  const host = `demo.${p.domain}`;
  const unknown = `no-such-app.${p.domain}`;
  return [
    {
      name: `Ingress: https://${host}/ from the host, certificate verified against the cluster CA`,
      run: async (env) => {
        await env.kubectl(['apply', '-f', '-'], { input: toYamlDocuments([httpsIngress({ name: 'smoke-demo', namespace: env.workload.namespace, host, service: env.workload.service, port: env.workload.port })]) });
        const address = await readIngressAddress(env.kubectl, p.workerIps);
        if (!address) return { ok: false, saw: "the controller's Service has no address" };
        const answer = await until(30, env.signal, () => httpsGetVia(address, host, env.ca), (a) => a.status === 200);
        const ok = !(answer instanceof Error) && answer.status === 200 && env.workload.pods().includes(answer.body.trim());
        return { ok, saw: `GET https://${host}/ via ${address.ip}:${address.port} → ${seen(answer)}` };
      },
    },
    {
      name: "Ingress: an unknown host gets the controller's 404",
      run: async (env) => {
        const address = await readIngressAddress(env.kubectl, p.workerIps);
        if (!address) return { ok: false, saw: "the controller's Service has no address" };
        const answer = await httpsGetVia(address, unknown, env.ca).catch((e: Error) => e);
        // Traefik's own answer for a host no router matches.
        const ok = !(answer instanceof Error) && answer.status === 404 && answer.body.trim() === '404 page not found';
        return { ok, saw: `GET https://${unknown}/ → ${seen(answer)}` };
      },
    },
  ];
}
