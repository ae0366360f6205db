// The encryption-at-rest config for the apiserver (--encryption-provider-config), with a key kept across runs.

import { createHash, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { target } from '../../lib/engine/target.ts';
import { readIfExists, replaceFiles } from '../../lib/pki/files.ts';
import { StepError } from '../../lib/errors.ts';
import { toYaml } from '../cluster/render/yaml.ts';
import { clusterOf } from '../config/clusters.ts';
import type { ClusterConfig } from '../config/config.ts';

/** This cluster's encryption config, relative to the project root: in its state directory. */
export function encryptionConfigPath(config: Pick<ClusterConfig, 'clusterName' | 'stateDir'>): string {
  return `${clusterOf(config).stateDir}/encryption/encryption-config.yaml`;
}

export type EncryptionResult = { path: string; sha256: string; provider: string; keyName: string };

/**
 * secretbox (XSalsa20-Poly1305, 32-byte key) rather than the seed's aescbc, which the Kubernetes docs
 * advise against (CBC padding oracles); aesgcm would need a new key every 200k writes. `identity` comes
 * second so secrets written before encryption was enabled stay readable.
 */
export const PROVIDER = 'secretbox';
const KEY_NAME = 'key1';

export function renderEncryptionConfig(secretBase64: string): string {
  return toYaml({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [{ resources: ['secrets'], providers: [{ [PROVIDER]: { keys: [{ name: KEY_NAME, secret: secretBase64 }] } }, { identity: {} }] }],
  });
}

export class EncryptionConfigError extends StepError {
  constructor(message: string, hint: string) {
    super(message, hint);
  }
}

/** The base64 key of an existing config; throws when the file has no usable key. */
export function existingKey(text: string, file: string): string {
  const match = /^\s*secret:\s*"?([A-Za-z0-9+/=]+)"?\s*$/m.exec(text);
  if (!match || Buffer.from(match[1]!, 'base64').length !== 32) {
    throw new EncryptionConfigError(
      `${file}: no 32-byte "secret" key found; refusing to replace it with a new key (secrets encrypted with the old one would become unreadable)`,
      'restore the file, or run clean:encryption --yes to start over with a new key',
    );
  }
  return match[1]!;
}

/**
 * The key is generated once and then read back from the file on every rebuild, never from the stored
 * result: results live in the engine's state file and must not carry secrets. So a rebuild (the target
 * is precious: only `--force encryption:config`; an edited file stops the run first) re-renders the file
 * around the same key; only deleting it (clean) re-keys.
 */
export function encryptionTarget(config: Pick<ClusterConfig, 'clusterName' | 'stateDir'>) {
  const file = encryptionConfigPath(config);
  return target({
    name: 'encryption:config',
    description: `Encryption-at-rest config for secrets (${PROVIDER}, random 32-byte key kept across runs)`,
    deps: {},
    outputs: [file],
    precious: true,
    version: 1,
    build: async (ctx): Promise<EncryptionResult> => {
      const path = resolve(ctx.root, file);
      const current = await readIfExists(path);
      const secret = current === undefined ? randomBytes(32).toString('base64') : existingKey(current, file);
      ctx.log(current === undefined ? 'generated a new 32-byte key' : 'kept the existing key');
      const text = renderEncryptionConfig(secret);
      await replaceFiles([{ path, data: text, mode: 0o600 }]);
      return { path: file, sha256: createHash('sha256').update(text).digest('hex'), provider: PROVIDER, keyName: KEY_NAME };
    },
  });
}
