// The host's inotify limits. Every node's systemd, containerd, kubelet and kube-proxy take inotify
// instances from the same per-user budget on the host kernel (the containers share it), and the default
// of 128 instances runs out at around three clusters' worth of nodes: kubelet or kube-proxy then fails
// with "too many open files". kind documents the same limits (known issues: "Pod errors due to too many
// open files"). The build never changes a host-wide sysctl by itself; it says what to run.

import { readFileSync } from 'node:fs';

/** The values kind's known-issues page recommends. */
export const INOTIFY_RECOMMENDED = { max_user_instances: 512, max_user_watches: 524288 } as const;

type Limit = keyof typeof INOTIFY_RECOMMENDED;

function readLimit(name: Limit, read: (path: string) => string): number | undefined {
  try {
    const value = Number(read(`/proc/sys/fs/inotify/${name}`).trim());
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined; // not Linux, or /proc not readable: nothing to say
  }
}

/** A warning naming the limits below the recommended values and the command that raises them, or undefined. */
export function inotifyLimitWarning(read: (path: string) => string = (path) => readFileSync(path, 'utf8')): string | undefined {
  const low = (Object.keys(INOTIFY_RECOMMENDED) as Limit[])
    .map((name) => ({ name, value: readLimit(name, read), want: INOTIFY_RECOMMENDED[name] }))
    .filter((l) => l.value !== undefined && l.value < l.want);
  if (low.length === 0) return undefined;
  const now = low.map((l) => `fs.inotify.${l.name} is ${l.value}`).join(', ');
  const fix = low.map((l) => `fs.inotify.${l.name}=${l.want}`).join(' ');
  return `warning: ${now}: several nodes' kubelets and kube-proxies can run out of inotify instances ("too many open files"); raise it with: sudo sysctl -w ${fix}`;
}
