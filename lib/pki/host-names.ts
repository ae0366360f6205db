// Subject alternative names: deciding whether a `hosts` entry is an IP address or a DNS name.

import { isIP } from 'node:net';

export type SanEntry = { type: 'ip' | 'dns'; value: string };

/**
 * A DNS name as certificates carry it: LDH labels of 1-63 characters, at most 253 in all, optionally
 * one leading `*.` wildcard label. A name whose last label is all digits is rejected: it is almost
 * always a mistyped IPv4 address (`10.32.0.256`), and no real top-level domain is numeric.
 */
export function isDnsName(text: string): boolean {
  const name = text.startsWith('*.') ? text.slice(2) : text;
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  if (labels.some((label) => !/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

/** Classifies one `hosts` entry, or returns undefined when it is neither an IP address nor a DNS name. */
export function classifyHost(text: string): SanEntry | undefined {
  if (isIP(text) !== 0) return { type: 'ip', value: text };
  if (isDnsName(text)) return { type: 'dns', value: text.toLowerCase() };
  return undefined;
}
