// What a log bundle holds, as items (collect.ts): per node its units' journals and states, the runtime's
// containers and pods and the pods' log files, its addresses, routes and iptables rules; per cluster what
// kubectl lists; from Docker the engine's info and each node container's inspect; the last run's log.
// Every node command goes through the node interface (lib/node/handle.ts) and only reads.

import { readFile } from 'node:fs/promises';
import type { NodeHandle } from '../../lib/node/handle.ts';
import type { Kubectl } from '../cluster/kubectl.ts';
import type { Content, Item } from './collect.ts';

/** How much of each journal and each container log is kept: a day-old cluster's kubelet journal is large. */
export const JOURNAL_LINES = 20_000;
export const CONTAINER_LOG_LINES = 5_000;
/** kubectl's own limit per request: a dead apiserver costs seconds, not a minute per item. */
export const KUBECTL_REQUEST_TIMEOUT = '5s';
const CRI_ENDPOINT = 'unix:///run/containerd/containerd.sock';

const text = (content: Content): string => (typeof content === 'string' ? content : content.toString('utf8'));

export type NodeSource = {
  /** The node's name (its folder: `nodes/<name>/`). */
  name: string;
  handle: NodeHandle;
  /** The project's systemd units on it, without `.service`. */
  units: readonly string[];
  /** It runs containerd for pods: the runtime's lists and the pods' log files are collected too. */
  runtime: boolean;
  /** crictl from the host, for a node that has none: streamed in for one command, removed after. */
  crictl?: () => Promise<Buffer | undefined>;
};

/** Runs argv on the node, read-only; a non-zero exit is a failure unless `accept` takes the result. */
async function onNode(node: NodeSource, argv: string[], signal: AbortSignal, accept?: (exitCode: number, stdout: Buffer) => boolean, stdin?: Buffer): Promise<Buffer> {
  const res = await node.handle.exec(argv, { readOnly: true, allowFailure: true, signal, ...(stdin ? { stdin } : {}) });
  if (res.exitCode === 0 || accept?.(res.exitCode, res.stdout)) return res.stdout;
  const why = (res.stderr.toString('utf8').trim() || res.stdout.toString('utf8').trim()).split('\n').pop() || '(no output)';
  throw new Error(`\`${argv.join(' ')}\` exited ${res.exitCode}: ${why}`);
}

/** Runs crictl with the host's binary on stdin: to a private temp file, run, removed whatever happens. */
const CRICTL_FROM_STDIN = 'set -u; b=$(mktemp /tmp/harder-logs-crictl.XXXXXX) || exit 125; trap \'rm -f "$b"\' EXIT; cat > "$b" && chmod 0700 "$b" || exit 125; "$b" "$@"';

/** `crictl <args>`: the node's own when it has one, else the host's built one. */
async function crictl(node: NodeSource, args: string[], signal: AbortSignal): Promise<Buffer> {
  const argv = ['--runtime-endpoint', CRI_ENDPOINT, '--timeout', '5s', ...args];
  const own = await node.handle.exec(['sh', '-c', 'command -v crictl'], { readOnly: true, allowFailure: true, signal });
  if (own.exitCode === 0) return onNode(node, ['crictl', ...argv], signal);
  const binary = await node.crictl?.();
  if (!binary) throw new Error(`crictl is not installed on ${node.name} and not built on this host (\`npx tsx tasks.ts bin:crictl\` builds it); ctr-containers.txt and ctr-tasks.txt list the containers`);
  return onNode(node, ['sh', '-c', CRICTL_FROM_STDIN, 'crictl', ...argv], signal, undefined, binary);
}

/** Every item of one node, behind one check that it answers at all (a stopped node costs one time limit). */
export function nodeItems(node: NodeSource): Item {
  const dir = `nodes/${node.name}`;
  const item = (path: string, what: string, collect: (signal: AbortSignal) => Promise<Content>, more: Partial<Item> = {}): Item => ({ path: `${dir}/${path}`, what: `${node.name}: ${what}`, collect, ...more });
  const run = (argv: string[], accept?: (exitCode: number, stdout: Buffer) => boolean) => (signal: AbortSignal) => onNode(node, argv, signal, accept);
  const withOutput = (_code: number, stdout: Buffer) => stdout.length > 0;
  const services = node.units.map((u) => `${u}.service`);
  const after: Item[] = [
    item('units.txt', 'systemctl list-units --all', run(['systemctl', 'list-units', '--all', '--no-pager', '--plain'])),
    // Exit 3 says a unit is not running: exactly what the file is for.
    item('systemctl-status.txt', `systemctl status ${node.units.join(' ')}`, run(['systemctl', 'status', '--no-pager', '--full', '--lines=20', ...services], withOutput)),
    ...node.units.map((unit) =>
      item(`journal/${unit}.log`, `journalctl -u ${unit}`, run(['journalctl', '-u', `${unit}.service`, '--no-pager', '-o', 'short-iso-precise', '-n', String(JOURNAL_LINES)])),
    ),
    item('ip-addr.txt', 'ip addr', run(['ip', 'addr'])),
    item('ip-route.txt', 'ip route', run(['ip', 'route'])),
    item('iptables-save.txt', 'iptables-save', run(['iptables-save'])),
  ];
  if (node.runtime) {
    after.push(
      item('crictl-ps.txt', 'crictl ps -a', (signal) => crictl(node, ['ps', '-a'], signal)),
      item('crictl-pods.txt', 'crictl pods', (signal) => crictl(node, ['pods'], signal)),
      item('ctr-containers.txt', 'ctr -n k8s.io containers ls', run(['ctr', '-n', 'k8s.io', 'containers', 'ls'])),
      item('ctr-tasks.txt', 'ctr -n k8s.io tasks ls', run(['ctr', '-n', 'k8s.io', 'tasks', 'ls'])),
      // The kubelet's own files of every container's output: there even when the apiserver is not.
      item('pod-logs.txt', 'find /var/log/pods', run(['find', '/var/log/pods', '-type', 'f', '-name', '*.log']), {
        discover: (content) =>
          text(content)
            .split('\n')
            .filter((line) => line.startsWith('/var/log/pods/') && !line.includes('/../'))
            .map((file) => item(`pod-logs/${file.slice('/var/log/pods/'.length)}`, `tail -n ${CONTAINER_LOG_LINES} ${file}`, run(['tail', '-n', String(CONTAINER_LOG_LINES), file]))),
      }),
    );
  }
  // Any exit means systemd answered (`degraded` exits 1): the check is that the node runs commands.
  return item('system-state.txt', 'systemctl is-system-running', run(['systemctl', 'is-system-running'], () => true), { after });
}

type PodList = { items?: { metadata?: { namespace?: string; name?: string }; status?: { containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] } }[] };
type ContainerStatus = { state?: { running?: unknown; terminated?: unknown }; lastState?: { terminated?: unknown } };

/** The pods that have a log to show: a container that runs or ran (a pod still pulling has none). */
export function podsWithLogs(content: Content): { namespace: string; name: string }[] {
  const list = JSON.parse(text(content)) as PodList;
  return (list.items ?? []).flatMap((pod) => {
    const namespace = pod.metadata?.namespace;
    const name = pod.metadata?.name;
    const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
    const started = statuses.some((s) => s.state?.running || s.state?.terminated || s.lastState?.terminated);
    return namespace && name && started ? [{ namespace, name }] : [];
  });
}

/** The cluster's items through kubectl, behind `kubectl version` (the apiserver answers at all). */
export function clusterItems(kubectl: Kubectl | string): Item {
  const item = (path: string, args: string[], more: Partial<Item> = {}): Item => ({
    path: `cluster/${path}`,
    what: `kubectl ${args.join(' ')}`,
    collect: async (signal) => {
      // A string is why there is no kubectl to run (not built yet, no kubeconfig).
      if (typeof kubectl === 'string') throw new Error(kubectl);
      const res = await kubectl([`--request-timeout=${KUBECTL_REQUEST_TIMEOUT}`, ...args], { signal, timeoutMs: 60_000 });
      return `${res.stdout}\n`;
    },
    ...more,
  });
  const after = [
    item('get-all.txt', ['get', 'all', '-A', '-o', 'wide']),
    item('nodes.txt', ['get', 'nodes', '-o', 'wide']),
    item('describe-nodes.txt', ['describe', 'nodes']),
    item('events.txt', ['get', 'events', '-A', '-o', 'wide', '--sort-by=.lastTimestamp']),
    item('readyz.txt', ['get', '--raw', '/readyz?verbose']),
    item('pods.json', ['get', 'pods', '-A', '-o', 'json'], {
      discover: (content) =>
        podsWithLogs(content).map((pod) => item(`pod-logs/${pod.namespace}/${pod.name}.log`, ['logs', '-n', pod.namespace, pod.name, '--all-containers', '--prefix', '--timestamps', `--tail=${CONTAINER_LOG_LINES}`])),
    }),
  ];
  return item('version.txt', ['version'], { after });
}

/** What the collector needs of Docker: the engine's info, an inspect by name (undefined: no such container or network), labelled containers. */
export type DockerSource = {
  info(signal: AbortSignal): Promise<unknown>;
  inspect(kind: 'containers' | 'networks', name: string, signal: AbortSignal): Promise<unknown | undefined>;
  /** Names of every container (running or not) with this label value. */
  containersLabelled(label: string, value: string, signal: AbortSignal): Promise<string[]>;
};

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** Docker's items, behind `docker info`: each node container's inspect (and any other container of the cluster), the network. */
export function dockerItems(docker: DockerSource, cluster: { label: string; name: string; network: string; containers: readonly string[] }): Item {
  const inspect = (container: string): Item => ({
    path: `docker/inspect/${container}.json`,
    what: `docker inspect ${container}`,
    collect: async (signal) => {
      const info = await docker.inspect('containers', container, signal);
      if (info === undefined) throw new Error(`no such container ${container}`);
      return json(info);
    },
  });
  const expected = new Set(cluster.containers);
  const after: Item[] = [
    ...cluster.containers.map(inspect),
    {
      path: 'docker/network.json',
      what: `docker network inspect ${cluster.network}`,
      collect: async (signal) => {
        const info = await docker.inspect('networks', cluster.network, signal);
        if (info === undefined) throw new Error(`no such network ${cluster.network}`);
        return json(info);
      },
    },
    {
      path: 'docker/containers.txt',
      what: `docker ps -a --filter label=${cluster.label}=${cluster.name}`,
      collect: async (signal) => `${(await docker.containersLabelled(cluster.label, cluster.name, signal)).join('\n')}\n`,
      // A container of the cluster the config does not name (a node left the config, an endpoint container).
      discover: (content) => text(content).split('\n').filter((name) => name && !expected.has(name)).map(inspect),
    },
  ];
  return { path: 'docker/info.json', what: 'docker info', collect: async (signal) => json(await docker.info(signal)), after };
}

/** The last build run's own log (lib/cli/run-log.ts), copied in. */
export function runLogItem(file: string): Item {
  return {
    path: 'last-run.log',
    what: "the last run's log",
    collect: async () => {
      try {
        return await readFile(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no build has run here yet: ${file} does not exist`);
        throw error;
      }
    },
  };
}
