// `certs:renew [--threshold DAYS]`: re-issue exactly the leaf certificates with fewer than DAYS days left
// (default WARN_DAYS, the days under which certs:check warns), each from the same CA with its key kept;
// never a CA. It picks them by reading the files on disk, then has the engine rebuild those `certs:<id>`
// targets whatever their key (the reason shown is the expiry), and the kubeconfigs that embed them. Their
// results carry the new sha256 and serial, so the next `cluster` reinstalls exactly those files and
// restarts exactly the units that read them, one node at a time (tasks/cluster/rollout.ts).
//
// Why a command and not a probe on every cert target: renewal is asked for. A probe with a threshold would
// make a plain `cluster` re-issue certificates as days pass, and a CA under the threshold would stop every
// run (a precious target may not be replaced as a side effect).

import { resolve } from 'node:path';
import type { CommandContext, CommandTargets, ProjectCommand } from '../../lib/cli/index.ts';
import { target, type AnyTarget } from '../../lib/engine/target.ts';
import { CliError, StepError } from '../../lib/errors.ts';
import { readIfExists } from '../../lib/pki/files.ts';
import { describeCertificate } from '../../lib/pki/inspect.ts';
import type { ClusterConfig } from '../config/config.ts';
import { planIps } from '../net/ip-plan.ts';
import { caCatalog, leafCatalog, type CertSpec } from './catalog.ts';
import { daysLeft, WARN_DAYS } from './check.ts';
import type { CertResult } from './pki.ts';

export const RENEW_COMMAND = 'certs:renew';
/** The days a --threshold may say: a certificate is issued for a year, a CA for ten. */
const MAX_THRESHOLD = 36_500;

/** A certificate on disk as renewal sees it: how long it has left. */
export type CertExpiry = { id: string; file: string; notAfter: string; daysLeft: number };

/** The CA that stops a renewal: its days left are under the threshold, and certs:renew never re-issues a CA. */
export class CaExpiringError extends StepError {}

/** Parses --threshold: whole days, 1 to MAX_THRESHOLD. */
export function thresholdOf(flags: Record<string, string>): number {
  const text = flags.threshold;
  if (text === undefined) return WARN_DAYS;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_THRESHOLD) {
    throw new CliError('bad-flag', `--threshold wants whole days from 1 to ${MAX_THRESHOLD}, got "${text}"`, `e.g. ${RENEW_COMMAND} --threshold ${WARN_DAYS}: renew what has under ${WARN_DAYS} days left`);
  }
  return Number(text);
}

/** Every certificate of the catalogue that is on disk, with its days left; absent ones are listed apart. */
async function expiries(root: string, specs: CertSpec[], now: Date): Promise<{ present: CertExpiry[]; missing: string[] }> {
  const present: CertExpiry[] = [];
  const missing: string[] = [];
  for (const spec of specs) {
    const pem = await readIfExists(resolve(root, spec.cert));
    if (pem === undefined) {
      missing.push(spec.id);
      continue;
    }
    const notAfter = describeCertificate(pem, spec.cert).notAfter;
    present.push({ id: spec.id, file: spec.cert, notAfter: notAfter.toISOString(), daysLeft: daysLeft(notAfter, now) });
  }
  return { present, missing };
}

/** What a renewal would do: the leaves to re-issue (under the threshold), the rest, and CAs under it (which stop it). */
export type RenewalPlan = { threshold: number; renew: CertExpiry[]; keep: CertExpiry[]; missing: string[]; expiringCas: CertExpiry[] };

export async function planRenewal(config: ClusterConfig, root: string, threshold: number, now = new Date()): Promise<RenewalPlan> {
  const cas = await expiries(root, caCatalog(config), now);
  const leaves = await expiries(root, leafCatalog(config, planIps(config)), now);
  return {
    threshold,
    renew: leaves.present.filter((c) => c.daysLeft < threshold),
    keep: leaves.present.filter((c) => c.daysLeft >= threshold),
    missing: leaves.missing,
    expiringCas: cas.present.filter((c) => c.daysLeft < threshold),
  };
}

const day = (iso: string) => iso.slice(0, 10);
const leftText = (c: CertExpiry) => (c.daysLeft < 0 ? `expired ${-c.daysLeft} days ago (${day(c.notAfter)})` : `expires in ${c.daysLeft} days (${day(c.notAfter)})`);

/** The report target of a renewal: what was re-issued (old → new expiry and serial), what was left, what to run next. */
function reportTarget(plan: RenewalPlan, renewed: Record<string, AnyTarget>, kubeconfigs: AnyTarget[]) {
  const deps: Record<string, AnyTarget> = { ...renewed };
  for (const k of kubeconfigs) deps[k.name] = k;
  return target({
    name: `${RENEW_COMMAND}:report`,
    description: `Report of certs:renew --threshold ${plan.threshold}`,
    deps,
    alwaysRun: true,
    build: async (ctx) => {
      for (const cert of plan.renew) {
        const now = ctx.deps[`certs:${cert.id}`] as CertResult;
        ctx.log(`renewed ${cert.id} (it ${leftText(cert)}): valid until ${day(now.notAfter)} now, serial ${now.serial}, same key`);
      }
      const soonest = [...plan.keep].sort((a, b) => a.daysLeft - b.daysLeft)[0];
      if (plan.renew.length === 0) ctx.log(`no leaf certificate has under ${plan.threshold} days left${soonest ? ` (the soonest, ${soonest.id}, ${leftText(soonest)})` : ''}: nothing renewed`);
      else ctx.log(`renewed ${plan.renew.length} of ${plan.renew.length + plan.keep.length} leaf certificates (under ${plan.threshold} days left); the CAs were not touched. Next: \`cluster\` installs them and restarts the units that read them, one node at a time`);
      if (plan.missing.length) ctx.log(`not issued yet (run \`certs\`): ${plan.missing.join(', ')}`);
      return { threshold: plan.threshold, renewed: plan.renew.map((c) => c.id) };
    },
  });
}

/** The targets and forced rebuilds of one renewal, from the registry (the project's `certs:<id>` and `kubeconfig:<id>` targets). */
export function renewalTargets(plan: RenewalPlan, registry: readonly AnyTarget[]): CommandTargets {
  const byName = new Map(registry.map((t) => [t.name, t]));
  const renewed: Record<string, AnyTarget> = {};
  const rebuild: Record<string, string> = {};
  for (const cert of plan.renew) {
    const name = `certs:${cert.id}`;
    const t = byName.get(name);
    if (!t) throw new Error(`${RENEW_COMMAND}: no target ${name} in the registry`);
    renewed[name] = t;
    rebuild[name] = `${leftText(cert)}, under the renewal threshold of ${plan.threshold} days`;
  }
  // The kubeconfigs that embed a renewed certificate follow now (they are not forced: their input changed).
  const chosen = new Set(Object.values(renewed));
  const kubeconfigs = registry.filter((t) => t.name.startsWith('kubeconfig:') && Object.values(t.deps as Record<string, AnyTarget>).some((d) => chosen.has(d)));
  return { targets: [...Object.values(renewed), reportTarget(plan, renewed, kubeconfigs)], rebuild };
}

export function renewCommand(): ProjectCommand<ClusterConfig> {
  return {
    usage: '[--threshold DAYS]',
    description: `re-issue the leaf certificates with under DAYS days left (default ${WARN_DAYS}), keys kept, CAs never; \`cluster\` then rolls the units that read them`,
    flags: [{ name: 'threshold', value: 'DAYS', description: `with ${RENEW_COMMAND}: renew the leaf certificates with fewer than DAYS days left (default ${WARN_DAYS})` }],
    async targets(args, config, registry, context: CommandContext) {
      if (args.length) throw new CliError('bad-command-args', `${RENEW_COMMAND} takes no arguments, got ${args.map((a) => JSON.stringify(a)).join(' ')}`, `${RENEW_COMMAND} --threshold DAYS`);
      const threshold = thresholdOf(context.flags);
      const plan = await planRenewal(config, context.root, threshold);
      if (plan.expiringCas.length) {
        const cas = plan.expiringCas.map((c) => `${c.id} (${c.file}) ${leftText(c)}`).join('; ');
        const soonest = Math.min(...plan.expiringCas.map((c) => c.daysLeft));
        throw new CaExpiringError(
          `${RENEW_COMMAND}: ${cas}, under the threshold of ${threshold} days. A CA is precious and ${RENEW_COMMAND} never re-issues it: rotating a CA is out of scope (docs/pki.md). Nothing was renewed`,
          soonest >= 1
            ? `a leaf renewed now stops verifying when its CA expires anyway; to renew the leaves regardless, give a threshold of at most ${soonest} days (--threshold ${soonest})`
            : 'the CA expires within a day: every certificate it signed stops verifying then',
        );
      }
      return renewalTargets(plan, registry);
    },
  };
}
