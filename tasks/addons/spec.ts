// The `addons` field of the cluster spec: which add-ons the cluster runs and their settings, with defaults
// and the checks of their shape. One entry per add-on, each with `enabled`; a spec names only what it
// changes (`{ "metallb": { "enabled": false } }`) and the rest keep their defaults. No imports beyond
// types, so the config check (tasks/config/config.ts) can read it cheaply.
//
// To add an add-on: a row in ADDON_FIELDS (its settings' kinds and defaults), a member of AddonsConfig,
// and its targets under tasks/addons/<name>/ registered in tasks/addons/index.ts.

import type { ConfigProblem } from '../config/config.ts';

/** MetalLB (tasks/addons/metallb): LoadBalancer Services get an address from `pool`, announced by ARP (L2 mode). */
export type MetallbSpec = {
  enabled: boolean;
  /**
   * The addresses LoadBalancer Services get: a CIDR (`10.240.0.240/28`) or a range (`10.240.0.240-10.240.0.254`)
   * inside nodeSubnet that no node and not the API endpoint has. Empty: planned by the IP plan, the top 16
   * addresses of nodeSubnet but its broadcast address (`.240-.254` of a /24); the Docker network reserves
   * them so Docker's IPAM never hands one to a container (tasks/net/ip-plan.ts).
   */
  pool: string;
};

/** The Ingress controller (tasks/addons/ingress): Traefik, HTTPS for every name under `domain` with a certificate from the cluster CA. */
export type IngressSpec = {
  enabled: boolean;
  /** The domain its default certificate covers (the name and `*.` it). Empty: `<clusterName>.test` (`.test` is reserved: never a real domain). */
  domain: string;
};

/** metrics-server (tasks/addons/metrics-server): the metrics.k8s.io API, so `kubectl top` works. */
export type MetricsServerSpec = {
  enabled: boolean;
};

/** Every add-on's settings, in the order they are installed (the Ingress's LoadBalancer Service after MetalLB). */
export type AddonsConfig = {
  metallb: MetallbSpec;
  ingress: IngressSpec;
  'metrics-server': MetricsServerSpec;
};

export type AddonName = keyof AddonsConfig;

/** What a spec file may write: any add-on, any of its fields. */
export type AddonsSpec = { [name in AddonName]?: Partial<AddonsConfig[name]> };

type FieldKind = 'boolean' | 'string';

/** Per add-on: each setting's kind and default (the defaults of the default cluster). */
const ADDON_FIELDS: { [name in AddonName]: { [field in keyof AddonsConfig[name]]: { kind: FieldKind; default: AddonsConfig[name][field] } } } = {
  metallb: {
    // On: `type: LoadBalancer` works as on a cloud. The integration tests that are not about add-ons switch
    // it off in their config (addons: noAddons()), so CI builds and applies it once, in its own test.
    enabled: { kind: 'boolean', default: true },
    pool: { kind: 'string', default: '' },
  },
  ingress: {
    // Off: test/integration/addons-ingress.test.ts proves it (with metrics-server), but Traefik's image is a
    // 2,495-package Go build, about 33 minutes from a cold Go build cache on this shared 2-core machine
    // (2026-12-02), too much to add to every default cluster's first run; switch it on in the spec.
    enabled: { kind: 'boolean', default: false },
    domain: { kind: 'string', default: '' },
  },
  'metrics-server': {
    // Off, like the Ingress: proven by addons-ingress, but a cold build of its image is ~8 minutes here.
    enabled: { kind: 'boolean', default: false },
  },
};

export const ADDON_NAMES = Object.keys(ADDON_FIELDS) as AddonName[];

/** The default of every add-on. */
export function defaultAddons(): AddonsConfig {
  return Object.fromEntries(ADDON_NAMES.map((name) => [name, Object.fromEntries(Object.entries(ADDON_FIELDS[name]).map(([field, f]) => [field, f.default]))])) as AddonsConfig;
}

/** Every add-on switched off: what the integration tests that are not about add-ons put in their config. */
export function noAddons(): AddonsSpec {
  return Object.fromEntries(ADDON_NAMES.map((name) => [name, { enabled: false }])) as AddonsSpec;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);
const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`);

/**
 * A spec's `addons` value merged over `base` (the defaults, or what an earlier layer set), with every
 * problem of its shape: an unknown add-on or setting, a setting of the wrong kind. The settings at fault
 * keep base's value.
 */
export function mergeAddons(value: unknown, base: AddonsConfig = defaultAddons()): { addons: AddonsConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const addons = JSON.parse(JSON.stringify(base)) as AddonsConfig;
  if (!isPlainObject(value)) {
    problems.push({ field: 'addons', problem: `is ${kindOf(value)}, not an object`, valid: `use an object by add-on name (${ADDON_NAMES.join(', ')}), e.g. { "metallb": { "enabled": false } }` });
    return { addons, problems };
  }
  for (const [name, settings] of Object.entries(value)) {
    if (!(ADDON_NAMES as string[]).includes(name)) {
      problems.push({ field: `addons.${name}`, problem: 'is not an add-on', valid: `the add-ons are ${ADDON_NAMES.join(', ')}` });
      continue;
    }
    const fields = ADDON_FIELDS[name as AddonName] as Record<string, { kind: FieldKind; default: unknown }>;
    if (!isPlainObject(settings)) {
      problems.push({ field: `addons.${name}`, problem: `is ${kindOf(settings)}, not an object`, valid: `use an object of ${Object.keys(fields).join(', ')}, e.g. { "enabled": false }` });
      continue;
    }
    for (const [field, setting] of Object.entries(settings)) {
      const spec = fields[field];
      if (!spec) {
        problems.push({ field: `addons.${name}.${field}`, problem: `is not a setting of ${name}`, valid: `${name} has ${Object.keys(fields).join(', ')}` });
      } else if (typeof setting !== spec.kind) {
        problems.push({ field: `addons.${name}.${field}`, problem: `is ${kindOf(setting)} (${JSON.stringify(setting)}), not a ${spec.kind}`, valid: `use a ${spec.kind}, e.g. ${JSON.stringify(spec.default)}` });
      } else {
        (addons[name as AddonName] as Record<string, unknown>)[field] = setting;
      }
    }
  }
  return { addons, problems };
}

/** The add-ons a config switches on, in ADDON_NAMES order. */
export function enabledAddons(addons: AddonsConfig): AddonName[] {
  return ADDON_NAMES.filter((name) => addons[name].enabled);
}
