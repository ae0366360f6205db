// The SSH trust model: a machine's host key must already be in the project's known_hosts file
// (output/ssh/known_hosts, OpenSSH's format, so lines can be copied from ~/.ssh/known_hosts or
// `ssh-keyscan`). An unknown key is refused unless trust on first use was asked for explicitly, and then
// it is recorded in that file; a changed key is always refused. Nothing is ever accepted silently.

import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MachineError } from './machine-error.ts';

/** How known_hosts names a host: `host` on port 22, `[host]:port` otherwise. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's fingerprint of a public key blob: `SHA256:<base64 without padding>`. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of a public key blob (`ssh-ed25519`, `ssh-rsa`…). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

type Entry = { hosts: string; type: string; key: string };

/** A host field matches: a comma-separated list of names, or a hashed name (`|1|salt|hash`). */
function matches(hosts: string, pattern: string): boolean {
  return hosts.split(',').some((h) => {
    const hashed = /^\|1\|([^|]+)\|([^|]+)$/.exec(h);
    if (!hashed) return h === pattern;
    return createHmac('sha1', Buffer.from(hashed[1]!, 'base64')).update(pattern).digest('base64') === hashed[2];
  });
}

export type HostKeyVerdict = { trusted: true; recorded: boolean } | { trusted: false; error: MachineError };

export class KnownHosts {
  /**
   * @param file the known_hosts file (created when a key is recorded)
   * @param trustNew record and accept a key for a host the file has no key for (trust on first use)
   */
  constructor(
    readonly file: string,
    readonly trustNew = false,
  ) {}

  private entries(): Entry[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const entries: Entry[] = [];
    for (const line of text.split('\n')) {
      const fields = line.trim().split(/\s+/);
      // Markers (@revoked, @cert-authority) are not for us: such a line never trusts a key here.
      if (fields.length < 3 || fields[0]!.startsWith('#') || fields[0]!.startsWith('@')) continue;
      entries.push({ hosts: fields[0]!, type: fields[1]!, key: fields[2]! });
    }
    return entries;
  }

  /** Whether the key `blob` that `host:port` presented is trusted for machine `machine`. */
  verify(machine: string, host: string, port: number, blob: Buffer): HostKeyVerdict {
    const pattern = hostPattern(host, port);
    const address = `${host}:${port}`;
    const known = this.entries().filter((e) => matches(e.hosts, pattern));
    const presented = blob.toString('base64');
    if (known.some((e) => e.key === presented)) return { trusted: true, recorded: false };
    if (known.length > 0) {
      const was = known.map((e) => `${e.type} ${fingerprint(Buffer.from(e.key, 'base64'))}`).join(', ');
      return {
        trusted: false,
        error: new MachineError(
          machine,
          address,
          `host key changed: it presented ${keyType(blob)} ${fingerprint(blob)}, ${this.file} has ${was}; refusing to connect (this is what a man-in-the-middle looks like)`,
          `if the machine was reinstalled on purpose, check the new fingerprint on its console (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\`) and remove the old line for ${pattern} from ${this.file}`,
        ),
      };
    }
    if (!this.trustNew) {
      return {
        trusted: false,
        error: new MachineError(
          machine,
          address,
          `host key unknown: it presented ${keyType(blob)} ${fingerprint(blob)}, which ${this.file} does not have; refusing to connect`,
          `check that fingerprint on the machine (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\`), then either add its line (\`ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${host} >> ${this.file}\`) or run once with --trust-new-hosts to record it`,
        ),
      };
    }
    mkdirSync(dirname(this.file), { recursive: true });
    appendFileSync(this.file, `${pattern} ${keyType(blob)} ${presented}\n`, { mode: 0o644 });
    return { trusted: true, recorded: true };
  }
}
