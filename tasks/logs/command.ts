// `npx tsx tasks.ts logs`, like `kind export logs`: a bundle of everything worth reading when the cluster
// misbehaves (bundle.ts, sources.ts), from the real nodes (the node interface over Docker), the built
// kubectl with the admin kubeconfig, and the Docker engine. A command, not a target: it takes no lock (it
// works while a hung run holds it), records nothing, only reads, and exits 0 whatever it could not collect.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { ProjectCommand } from '../../lib/cli/index.ts';
import { readStoredResult } from '../../lib/engine/index.ts';
import { CliError } from '../../lib/errors.ts';
import { readOnlyView } from '../../lib/node/handle.ts';
import { NodeFleet, nodeReadsOf } from '../../lib/node/fleet.ts';
import type { BinaryResult } from '../binaries/index.ts';
import { kubeconfigPath } from '../certs/kubeconfig.ts';
import { kubectlRunner, type Kubectl } from '../cluster/kubectl.ts';
import type { ClusterConfig } from '../config/config.ts';
import { CLUSTER_LABEL, containerName } from '../nodes/labels.ts';
import { bundleReport, writeBundle } from './bundle.ts';
import type { Item } from './collect.ts';
import { clusterItems, dockerItems, nodeItems, runLogItem, type DockerSource, type NodeSource } from './sources.ts';

/** Each item's limit: a journal of 20 000 lines takes well under a second; a wedged command is cut off here. */
export const ITEM_TIMEOUT_MS = 30_000;

/** The file a recorded binary target built, or undefined when it was never built or its file is gone. */
function builtBinary(outDir: string, target: string): string | undefined {
  const result = readStoredResult(outDir, target) as BinaryResult | undefined;
  return result && typeof result.path === 'string' && existsSync(result.path) ? result.path : undefined;
}

/** Docker through the light Engine API client (lib/docker/engine-api.ts): reads only. */
async function dockerSource(): Promise<DockerSource & { close(): void }> {
  const { EngineClient, EngineApiError } = await import('../../lib/docker/engine-api.ts');
  const client = new EngineClient();
  return {
    info: (signal) => client.json('GET', '/info', 'docker info', undefined, signal),
    inspect: async (kind, name, signal) => {
      const path = kind === 'networks' ? `/networks/${encodeURIComponent(name)}` : `/containers/${encodeURIComponent(name)}/json`;
      try {
        return await client.json('GET', path, `inspecting ${name}`, undefined, signal);
      } catch (error) {
        if (error instanceof EngineApiError && error.statusCode === 404) return undefined;
        throw error;
      }
    },
    containersLabelled: async (label, value, signal) => {
      const filters = encodeURIComponent(JSON.stringify({ label: [`${label}=${value}`] }));
      const list = await client.json<{ Names?: string[] }[]>('GET', `/containers/json?all=1&filters=${filters}`, 'listing containers', undefined, signal);
      return list.map((c) => (c.Names?.[0] ?? '').replace(/^\//, '')).filter(Boolean).sort();
    },
    close: () => client.close(),
  };
}

export type LogsPlan = { items: Item[]; nodes: number; close(): Promise<void> };

/** Every item of this cluster's bundle, over the real transports. */
async function planLogs(config: ClusterConfig, io: { root: string; outDir: string; registry: Parameters<typeof nodeReadsOf>[0] }): Promise<LogsPlan> {
  const { dockerNodes } = await import('../../lib/docker/node-access.ts');
  const transport = dockerNodes();
  const fleet = new NodeFleet({ connect: transport.connect, close: transport.close });
  const docker = await dockerSource();
  // The units each node's targets put there: the graph's own declarations, so a new unit is collected too.
  const declared = nodeReadsOf(io.registry);
  const crictlPath = builtBinary(io.outDir, 'bin:crictl');
  let crictlBytes: Promise<Buffer> | undefined;
  const crictl = crictlPath ? () => (crictlBytes ??= readFile(crictlPath)) : undefined;
  const nodes: NodeSource[] = config.nodes.map((node) => {
    const units = declared.get(node.name)?.units ?? [];
    return { name: node.name, handle: readOnlyView(fleet.node(containerName(config.clusterName, node.name))), units, runtime: units.includes('containerd'), crictl };
  });
  const kubectlBinary = builtBinary(io.outDir, 'bin:kubectl');
  const kubeconfig = resolve(io.root, kubeconfigPath(config, 'admin'));
  let kubectl: Kubectl | string;
  if (!kubectlBinary) kubectl = 'kubectl is not built yet (`npx tsx tasks.ts bin:kubectl` builds it)';
  else if (!existsSync(kubeconfig)) kubectl = `there is no admin kubeconfig: ${kubeconfig} does not exist (\`npx tsx tasks.ts kubeconfig:admin\` writes it)`;
  else kubectl = kubectlRunner(kubectlBinary, kubeconfig);
  const items = [
    runLogItem(join(io.outDir, 'last-run.log')),
    dockerItems(docker, { label: CLUSTER_LABEL, name: config.clusterName, network: config.clusterName, containers: config.nodes.map((n) => containerName(config.clusterName, n.name)) }),
    clusterItems(kubectl),
    ...nodes.map(nodeItems),
  ];
  return {
    items,
    nodes: nodes.length,
    close: async () => {
      docker.close();
      await fleet.close();
    },
  };
}

/** Items in the plan before any runs (what the nodes and the API list comes on top). */
function countItems(items: readonly Item[]): number {
  return items.reduce((n, item) => n + 1 + countItems(item.after ?? []), 0);
}

export function logsCommand(): ProjectCommand<ClusterConfig> {
  return {
    usage: '',
    description: "collect every node's journals, unit states, containers, addresses, routes and iptables rules, the cluster's objects, events and pod logs, Docker's view of the nodes and the last run's log into output/logs/<time>/ and a .tar.gz; read-only, and works on a half-broken cluster",
    targets: () => [],
    async run(args, config, io) {
      if (args.length) throw new CliError('bad-command-args', `logs takes no arguments, got ${args.map((a) => JSON.stringify(a)).join(' ')}`, 'npx tsx tasks.ts logs');
      const plan = await planLogs(config, io);
      try {
        if (io.dryRun) {
          io.out(`dry run: logs would collect ${countItems(plan.items)} items (and each pod's and container's log) of cluster ${config.clusterName} and its ${plan.nodes} nodes into ${join(io.outDir, 'logs')}/<time>/ and a .tar.gz; nothing written\n`);
          return 0;
        }
        const bundle = await writeBundle(plan.items, {
          outDir: io.outDir,
          // Items mostly wait on a node or the API; the bound keeps a 2-core machine responsive.
          jobs: Math.max(2, availableParallelism()),
          timeoutMs: ITEM_TIMEOUT_MS,
          signal: io.signal,
          title: `harder logs of cluster ${config.clusterName} (${config.nodes.map((n) => `${n.name} ${n.role}`).join(', ')})`,
        });
        io.out(bundleReport(bundle, process.cwd()));
        return io.signal.aborted ? 130 : 0;
      } finally {
        await plan.close();
      }
    },
  };
}
