// The add-ons step: for each add-on (tasks/addons/<name>/), its targets when the spec switches it on, or
// its removal target `addon:<name>:remove` when it is off. Either one is part of `cluster`, so a run after
// switching an add-on off deletes what it applied, and --explain says why that target runs.

import type { AnyTarget } from '../../lib/engine/target.ts';
import type { SmokeAddonCheck } from '../cluster/smoke-checks.ts';
import { addonRemovalTarget, type AddonContext, type AddonDefinition } from './framework.ts';
import { ADDON_NAMES, type AddonName } from './spec.ts';
import { metallbAddon } from './metallb/index.ts';
import { ingressAddon } from './ingress/index.ts';
import { metricsServerAddon } from './metrics-server/index.ts';

/** Every add-on, by name. */
export const ADDONS: { [name in AddonName]: AddonDefinition } = {
  metallb: metallbAddon,
  ingress: ingressAddon,
  'metrics-server': metricsServerAddon,
};

/** Each add-on's targets (on) or its removal target (off); `parts` are what `cluster` depends on, by add-on. */
export function addonsStep(base: Omit<AddonContext, 'installed'>) {
  const ctx: AddonContext = { ...base, installed: {} };
  const parts = {} as Record<AddonName, AnyTarget>;
  const all: AnyTarget[] = [];
  const smokeChecks: SmokeAddonCheck[] = [];
  for (const name of ADDON_NAMES) {
    const addon = ADDONS[name];
    if (ctx.cluster.config.addons[name].enabled && (addon.applies?.(ctx) ?? true)) {
      const made = addon.targets(ctx);
      parts[name] = made.installed;
      ctx.installed[name] = made.installed;
      smokeChecks.push(...(made.smokeChecks ?? []));
      all.push(...made.all);
    } else {
      const removal = addonRemovalTarget(ctx, addon);
      parts[name] = removal;
      all.push(removal);
    }
  }
  return { parts, all, smokeChecks };
}
