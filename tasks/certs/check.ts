// `certs:check`: a report on every certificate on disk — expiry, signer, and agreement with its request config.

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { target, type Json } from '../../lib/engine/target.ts';
import { StepError } from '../../lib/errors.ts';
import { describeCertificate, isSignedBy, keyMatchesCertificate } from '../../lib/pki/inspect.ts';
import { loadPrivateKeyPem } from '../../lib/pki/keys.ts';
import { readIfExists } from '../../lib/pki/files.ts';
import { organizations, parseCertRequest, resolveRequest } from '../../lib/pki/request.ts';
import type { ClusterConfig } from '../config/config.ts';
import type { IpPlan } from '../net/ip-plan.ts';
import { certCatalog, type CertSpec } from './catalog.ts';

export const WARN_DAYS = 30;
const DAY_MS = 86_400_000;

export type CertCheckRow = {
  id: string;
  subject: string;
  sans: string;
  issuer: string;
  notAfter: string;
  daysLeft: number;
  status: 'ok' | 'warning' | 'error';
  problems: string[];
};

export class CertsCheckError extends StepError {
  constructor(problems: string[]) {
    super(`certificate check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'run `npx tsx tasks.ts certs` to re-issue what changed, or `certs --force` to renew every leaf cert');
  }
}

/** Whole days from `now` to `notAfter`, rounded down (negative once expired): what the table shows and renewal compares. */
export function daysLeft(notAfter: Date, now: Date): number {
  return Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
}

const setText = (values: string[]) => [...values].sort().join(', ');

/** Checks one certificate against its file set, its CA and its request config. Never throws for cert problems. */
export async function checkCert(root: string, spec: CertSpec, signerCert: string, now: Date): Promise<CertCheckRow> {
  const problems: string[] = [];
  const row: CertCheckRow = { id: spec.id, subject: '-', sans: '-', issuer: '-', notAfter: '-', daysLeft: 0, status: 'error', problems };
  const certPem = await readIfExists(resolve(root, spec.cert));
  if (certPem === undefined) {
    problems.push(`${spec.cert} is missing (not issued yet)`);
    return row;
  }
  try {
    const info = describeCertificate(certPem, spec.cert);
    Object.assign(row, {
      subject: info.subject,
      sans: info.sans.map((s) => s.value).join(', ') || '-',
      issuer: info.issuer,
      notAfter: info.notAfter.toISOString().slice(0, 10),
      daysLeft: daysLeft(info.notAfter, now),
    });
    if (info.notAfter <= now) problems.push(`${spec.cert} expired on ${info.notAfter.toISOString()}`);
    const caPem = await readIfExists(resolve(root, signerCert));
    if (caPem === undefined) problems.push(`${spec.cert}: its CA ${signerCert} is missing`);
    else if (!isSignedBy(certPem, caPem, spec.cert, signerCert)) problems.push(`${spec.cert} is not signed by the current CA ${signerCert}`);
    const keyPem = await readIfExists(resolve(root, spec.key));
    if (keyPem === undefined) problems.push(`${spec.key} is missing`);
    else {
      if (!keyMatchesCertificate(await loadPrivateKeyPem(keyPem, spec.key), certPem, spec.cert)) problems.push(`${spec.key} does not match ${spec.cert}`);
      // A private key others can read is as good as leaked; `certs` puts the recorded mode back.
      const mode = (await stat(resolve(root, spec.key))).mode & 0o777;
      if (mode & 0o077) problems.push(`mode of ${spec.key} is 0${mode.toString(8)}, want 0600 (readable by others; \`certs\` repairs it)`);
    }
    const request = resolveRequest(parseCertRequest(await readFile(resolve(root, spec.request), 'utf8'), spec.request), spec.vars);
    if (info.CN !== request.CN) problems.push(`${spec.cert}: CN is "${info.CN}" but ${spec.request} asks for "${request.CN}"`);
    const wantO = organizations(request);
    if (setText(info.O) !== setText(wantO)) problems.push(`${spec.cert}: O is [${setText(info.O)}] but ${spec.request} asks for [${setText(wantO)}]`);
    const haveSans = info.sans.map((s) => `${s.type}:${s.value}`);
    const wantSans = request.hosts.map((s) => `${s.type}:${s.value}`);
    if (setText(haveSans) !== setText(wantSans)) {
      const missing = wantSans.filter((s) => !haveSans.includes(s));
      const extra = haveSans.filter((s) => !wantSans.includes(s));
      problems.push(`${spec.cert}: SANs differ from ${spec.request}${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; not requested ${extra.join(', ')}` : ''}`);
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  row.status = problems.length > 0 ? 'error' : row.daysLeft < WARN_DAYS ? 'warning' : 'ok';
  return row;
}

/** Left-aligned text table. */
export function formatTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export function certsCheckTarget(config: ClusterConfig, plan: IpPlan) {
  const catalog = certCatalog(config, plan);
  return target({
    name: 'certs:check',
    description: `Check every certificate: signer, request config (CN/O/SANs), expiry (warns under ${WARN_DAYS} days)`,
    deps: {},
    alwaysRun: true,
    version: 1,
    build: async (ctx) => {
      const caCert = (id: string) => catalog.find((s) => s.id === id)!.cert;
      const now = new Date();
      const rows = await Promise.all(catalog.map((spec) => checkCert(ctx.root, spec, spec.signer ? caCert(spec.signer) : spec.cert, now)));
      const table = formatTable(
        ['CERT', 'SUBJECT', 'SANS', 'ISSUER', 'NOT AFTER', 'DAYS', 'STATUS'],
        rows.map((r) => [r.id, r.subject, r.sans, r.issuer, r.notAfter, String(r.daysLeft), r.status]),
      );
      for (const line of table) ctx.log(line);
      for (const r of rows.filter((r) => r.status === 'warning')) ctx.log(`warning: ${r.id} expires in ${r.daysLeft} days (${r.notAfter})`);
      const problems = rows.flatMap((r) => r.problems);
      if (problems.length > 0) throw new CertsCheckError(problems);
      return { certs: rows.map((r) => ({ id: r.id, notAfter: r.notAfter, daysLeft: r.daysLeft, status: r.status })) as Json, warnings: rows.filter((r) => r.status === 'warning').length };
    },
  });
}
