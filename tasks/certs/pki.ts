// The PKI targets: one `certs:<id>` target per certificate of the catalogue (tasks/certs/catalog.ts), plus
// the service-account key pair. Each declares its request config, the signing config and the values it
// fills in as inputs, so only a real change re-issues a cert; CAs are precious.

import { target, type Target } from '../../lib/engine/target.ts';
import { keySpecText, type KeySpec } from '../../lib/pki/key-spec.ts';
import type { ClusterConfig } from '../config/config.ts';
import type { IpPlan } from '../net/ip-plan.ts';
import { caCatalog, leafCatalog, pkiDir, SIGNING_CONFIG, type CaId, type CertSpec } from './catalog.ts';

/**
 * What a cert target returns. `sha256` and `serial` change exactly when the cert is re-issued, so
 * everything that embeds it (kubeconfigs, node installs) rebuilds then and only then.
 */
export type CertResult = {
  cert: string;
  key: string;
  /** The signing CA's certificate (itself for a CA). */
  ca: string;
  subject: string;
  sha256: string;
  serial: string;
  notAfter: string;
  keyAlgorithm: string;
};

export type CertTarget = Target<CertResult, Record<string, Target<CertResult>>>;

export type ServiceAccountKeyResult = { key: string; pub: string; sha256: string };

/** The key a request config gets when it has no `key` field: the cluster config's algorithm at its usual size. */
export function defaultKeySpec(config: ClusterConfig): KeySpec {
  return config.keyAlgorithm === 'rsa' ? { algo: 'rsa', size: 2048 } : { algo: 'ecdsa', size: 256 };
}

function certTarget(spec: CertSpec, config: ClusterConfig, signer: CertTarget | undefined): CertTarget {
  const deps: Record<string, CertTarget> = signer ? { signer } : {};
  return target({
    name: `certs:${spec.id}`,
    description: spec.description,
    deps,
    inputs: { files: [spec.request, SIGNING_CONFIG], values: { ...spec.vars, keyAlgorithm: config.keyAlgorithm, profile: spec.profile } },
    outputs: [spec.cert, spec.key],
    // A CA is trusted by everything else: rebuilding it re-issues every cert, so only an explicit clean or
    // a force on the CA target itself may do it.
    precious: spec.signer === null,
    version: 1,
    build: async (ctx): Promise<CertResult> => {
      const signerResult = ctx.deps.signer;
      // Issuing code (x509 building, signing config) is imported only when a cert is issued: a no-op run never needs it.
      const { issueToFiles } = await import('../../lib/pki/issue-to-files.ts');
      const issued = await issueToFiles({
        root: ctx.root,
        request: spec.request,
        vars: spec.vars,
        signingConfig: SIGNING_CONFIG,
        profile: spec.profile,
        defaultKey: defaultKeySpec(config),
        cert: spec.cert,
        key: spec.key,
        ...(signerResult ? { signer: { cert: signerResult.cert, key: signerResult.key } } : {}),
      });
      const subject = [`CN=${issued.request.CN}`, ...issued.request.names.flatMap((n) => (n.O ? [`O=${n.O}`] : []))].join(', ');
      ctx.log(`issued ${subject} (${keySpecText(issued.keySpec)}, ${issued.keyReused ? 'kept key' : 'new key'}), valid until ${issued.notAfter.slice(0, 10)}`);
      return {
        cert: spec.cert,
        key: spec.key,
        ca: signerResult ? signerResult.cert : spec.cert,
        subject,
        sha256: issued.sha256,
        serial: issued.serial,
        notAfter: issued.notAfter,
        keyAlgorithm: keySpecText(issued.keySpec),
      };
    },
  });
}

/** The service-account token signing key pair: apiserver --service-account-key-file / -signing-key-file, controller-manager --service-account-private-key-file. */
function serviceAccountTarget(config: ClusterConfig) {
  const key = `${pkiDir(config)}/service-account.key`;
  const pub = `${pkiDir(config)}/service-account.pub`;
  return target({
    name: 'certs:service-account',
    description: 'Service-account token signing key pair (no certificate, as kubeadm)',
    deps: {},
    inputs: { values: { keyAlgorithm: config.keyAlgorithm } },
    outputs: [key, pub],
    // A new key invalidates every service-account token already issued.
    precious: true,
    version: 1,
    build: async (ctx): Promise<ServiceAccountKeyResult> => {
      const { ensureKeyPairFiles } = await import('../../lib/pki/key-pair-files.ts');
      const result = await ensureKeyPairFiles(ctx.root, key, pub, defaultKeySpec(config));
      ctx.log(result.reused ? 'kept the existing key' : `generated a ${keySpecText(defaultKeySpec(config))} key`);
      return { key, pub, sha256: result.sha256 };
    },
  });
}

export type PkiTargets = {
  cas: Record<CaId, CertTarget>;
  /** Leaf cert targets by catalogue id (`admin`, `kubelet:worker-1`…). */
  leaves: Record<string, CertTarget>;
  serviceAccount: ReturnType<typeof serviceAccountTarget>;
  all: (CertTarget | ReturnType<typeof serviceAccountTarget>)[];
};

/**
 * Builds the PKI targets. Addresses come from the graph's plan (the object `net:plan` returns) and are
 * declared as input values of each cert instead of a dependency on `net:plan`: the plan's result lists
 * every node, so depending on it would re-issue every address-bearing cert whenever a worker is added;
 * per-cert values re-issue only the certs whose own addresses changed.
 */
export function pkiTargets(config: ClusterConfig, plan: IpPlan): PkiTargets {
  const cas = {} as Record<CaId, CertTarget>;
  for (const spec of caCatalog(config)) cas[spec.id as CaId] = certTarget(spec, config, undefined);
  const leaves: Record<string, CertTarget> = {};
  for (const spec of leafCatalog(config, plan)) leaves[spec.id] = certTarget(spec, config, cas[spec.signer!]);
  const serviceAccount = serviceAccountTarget(config);
  return { cas, leaves, serviceAccount, all: [...Object.values(cas), ...Object.values(leaves), serviceAccount] };
}
