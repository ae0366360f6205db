// Where the host reaches the Ingress controller: the address MetalLB gave its LoadBalancer Service (or,
// with no load balancer, a worker's IP and the Service's node port), and one HTTPS request to it that
// names a host (SNI and Host header) and checks the certificate against a given CA, as
// `curl --resolve <host>:443:<address> --cacert <ca>` does.

import { request } from 'node:https';
import type { Kubectl } from '../../cluster/kubectl.ts';
import { INGRESS_NAMESPACE, INGRESS_SERVICE } from './manifests.ts';

export type IngressAddress = { ip: string; port: number };

type ServiceJson = {
  spec: { type: string; ports: { name?: string; port: number; nodePort?: number }[] };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
};

/** The HTTPS address of the controller's Service, or undefined while a LoadBalancer has none yet. */
export function ingressAddressOf(service: ServiceJson, workerIps: readonly string[]): IngressAddress | undefined {
  const https = service.spec.ports.find((p) => p.name === 'websecure') ?? service.spec.ports.find((p) => p.port === 443);
  if (!https) return undefined;
  if (service.spec.type === 'LoadBalancer') {
    const ip = service.status?.loadBalancer?.ingress?.find((i) => i.ip)?.ip;
    return ip ? { ip, port: https.port } : undefined;
  }
  return https.nodePort && workerIps[0] ? { ip: workerIps[0], port: https.nodePort } : undefined;
}

/** Reads the Service through kubectl. */
export async function readIngressAddress(kubectl: Kubectl, workerIps: readonly string[]): Promise<IngressAddress | undefined> {
  const out = await kubectl(['-n', INGRESS_NAMESPACE, 'get', 'service', INGRESS_SERVICE, '-o', 'json'], { allowFailure: true });
  if (out.exitCode !== 0) return undefined;
  return ingressAddressOf(JSON.parse(out.stdout) as ServiceJson, workerIps);
}

export type HttpsAnswer = { status: number; body: string; peerCertificate: { subject: string; issuer: string; subjectaltname: string } };

/**
 * GET https://<host>/ sent to `address`, trusting only `ca` (PEM): a certificate that does not chain to it
 * or does not name `host` is an error, never an answer.
 */
export function httpsGetVia(address: IngressAddress, host: string, ca: string, timeoutMs = 5000): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address.ip, port: address.port, path: '/', method: 'GET', servername: host, headers: { host }, ca, agent: false, timeout: timeoutMs },
      (res) => {
        const cert = res.socket && 'getPeerCertificate' in res.socket ? (res.socket as import('node:tls').TLSSocket).getPeerCertificate() : undefined;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            peerCertificate: { subject: String(cert?.subject?.CN ?? ''), issuer: String(cert?.issuer?.CN ?? ''), subjectaltname: cert?.subjectaltname ?? '' },
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`https://${host}/ via ${address.ip}:${address.port}: no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end();
  });
}

/** The /etc/hosts lines that make the names resolve on the host (printed, never written). */
export function hostsLines(address: IngressAddress, hosts: readonly string[]): string[] {
  return hosts.map((host) => `${address.ip} ${host}`);
}
