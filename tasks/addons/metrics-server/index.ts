// metrics-server: the resource metrics API (metrics.k8s.io) behind the apiserver's aggregation layer, so
// `kubectl top nodes` and `kubectl top pods` work. Its serving certificate comes from the project's PKI
// (certs:metrics-server) and it checks the kubelets' serving certificates against the cluster CA: no
// --kubelet-insecure-tls, no insecureSkipTLSVerify (manifests.ts says how each side trusts the other).
// Targets: image:metrics-server → load:metrics-server@<worker> → addon:metrics-server.

import { perArch } from '../../config/arches.ts';
import { readFile } from 'node:fs/promises';
import { target, type AnyTarget } from '../../../lib/engine/target.ts';
import { balancedApi, workers } from '../../config/config.ts';
import { binaryOf, certSource, kubeconfigSource } from '../../cluster/context.ts';
import { NotReadyError } from '../../cluster/errors.ts';
import { rootPath, sha256, sleep } from '../../cluster/node-targets.ts';
import { toYamlDocuments } from '../../cluster/render/yaml.ts';
import { addonImageLoads, addonKubectl, apiStatus, type AddonContext, type AddonDefinition } from '../framework.ts';
import { applyObjects, checkRemovable, labelled, type KubeObject } from '../objects.ts';
import { METRICS_SERVER_VERSION } from '../versions.ts';
import { METRICS_SERVER_IMAGE, metricsServerImageTarget } from './image.ts';
import { metricsSmokeChecks } from './smoke.ts';
import { METRICS_SERVER_NAME, METRICS_SERVER_NAMESPACE, metricsServerManifests, type MetricsServerParams } from './manifests.ts';

const ADDON = 'metrics-server';
/** The built-in kinds of what addon:metrics-server applies. */
const KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'RoleBinding', 'Secret', 'Deployment', 'Service', 'APIService'] as const;
const API_SERVICE = 'v1beta1.metrics.k8s.io';
const API_SERVICE_PATH = `/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`;

type ApiServiceJson = { status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] } };

/** The APIService's Available condition: `True`, or why not (the aggregator's reason and message). */
function availability(body: string): { ok: boolean; why: string } {
  const available = (JSON.parse(body) as ApiServiceJson).status?.conditions?.find((c) => c.type === 'Available');
  if (!available) return { ok: false, why: 'no Available condition yet' };
  return { ok: available.status === 'True', why: `${available.reason ?? available.status}: ${available.message ?? ''}`.trim() };
}

function metricsServerTargets(ctx: AddonContext): ReturnType<AddonDefinition['targets']> {
  const cluster = ctx.cluster;
  const loads = addonImageLoads(ctx, [{ name: 'metrics-server', ref: METRICS_SERVER_IMAGE, image: perArch(metricsServerImageTarget) }]);
  const kubectl = binaryOf(cluster, 'kubectl');
  const admin = kubeconfigSource(cluster, 'admin');
  const serving = { cert: certSource(cluster, 'metrics-server', 'cert'), key: certSource(cluster, 'metrics-server', 'key') };
  const ca = certSource(cluster, 'ca', 'cert');
  const params = (tls: { cert: string; key: string; ca: string }): MetricsServerParams => ({
    image: METRICS_SERVER_IMAGE,
    tlsCert: tls.cert,
    tlsKey: tls.key,
    ca: tls.ca,
    ...(balancedApi(cluster.config) && cluster.plan.apiEndpointIp ? { apiServer: { host: cluster.plan.apiEndpointIp, port: cluster.config.apiServerPort } } : {}),
  });
  // The objects' shape without the certificate bytes (those come in through the cert targets' results).
  const shape = sha256(toYamlDocuments(metricsServerManifests(params({ cert: '', key: '', ca: '' }))));
  const installed = target({
    name: `addon:${ADDON}`,
    description: `metrics-server ${METRICS_SERVER_VERSION}: the metrics.k8s.io API (kubectl top), its serving cert from the cluster CA, kubelets verified against it`,
    deps: { apiserver: ctx.apiserverReady, ...ctx.nodesReady, ...Object.fromEntries(loads.all.map((l) => [l.name, l])), kubectl, admin: admin.from, cert: serving.cert.from, ca: ca.from },
    version: 1,
    inputs: { values: { version: METRICS_SERVER_VERSION, image: METRICS_SERVER_IMAGE, shape } },
    build: async (bctx) => {
      const run = addonKubectl(cluster, bctx.root, bctx.deps.kubectl.path);
      const read = (file: string) => readFile(rootPath(bctx.root, file), 'utf8');
      const objects = labelled(ADDON, metricsServerManifests(params({ cert: await read(serving.cert.file), key: await read(serving.key.file), ca: await read(ca.file) })) as KubeObject[]);
      checkRemovable(ADDON, objects, KINDS);
      bctx.log(await applyObjects(run, ADDON, objects, bctx.signal));
      const status = await run(['-n', METRICS_SERVER_NAMESPACE, 'rollout', 'status', `deployment/${METRICS_SERVER_NAME}`, '--timeout=180s'], { allowFailure: true, timeoutMs: 200_000, signal: bctx.signal });
      // Available once the aggregator has reached the pod over TLS and metrics-server has scraped the kubelets.
      let last = { ok: false, why: 'not read yet' };
      for (let i = 0; status.exitCode === 0 && i < 90 && !last.ok; i++) {
        if (i > 0) await sleep(2000, bctx.signal);
        const res = await apiStatus(cluster, bctx.root, API_SERVICE_PATH);
        last = res.status === 200 ? availability(res.body) : { ok: false, why: `GET answered ${res.status}` };
      }
      if (!last.ok) {
        const pods = await run(['-n', METRICS_SERVER_NAMESPACE, 'get', 'pods', '-l', `k8s-app=${METRICS_SERVER_NAME}`, '-o', 'wide'], { allowFailure: true });
        const logs = await run(['-n', METRICS_SERVER_NAMESPACE, 'logs', `deployment/${METRICS_SERVER_NAME}`, '--tail=15'], { allowFailure: true });
        throw new NotReadyError(
          `metrics-server did not become available: ${status.exitCode !== 0 ? status.stderr || status.stdout : `APIService ${API_SERVICE} ${last.why}`}\n${pods.stdout}\n${logs.stdout || logs.stderr}`,
          `look at its logs: kubectl -n ${METRICS_SERVER_NAMESPACE} logs deployment/${METRICS_SERVER_NAME}`,
        );
      }
      return { version: METRICS_SERVER_VERSION, apiService: API_SERVICE };
    },
    probe: async (_result, actx) => {
      const res = await apiStatus(cluster, actx.root, API_SERVICE_PATH);
      if (res.status !== 200) return `APIService ${API_SERVICE}: GET answered ${res.status}`;
      const state = availability(res.body);
      return state.ok ? undefined : `APIService ${API_SERVICE} is not available (${state.why})`;
    },
  });
  return { installed, all: [...loads.images, ...loads.all, installed], smokeChecks: metricsSmokeChecks({ workers: workers(cluster.config).map((n) => n.name) }) };
}

export const metricsServerAddon: AddonDefinition = {
  name: ADDON,
  kinds: KINDS,
  witness: API_SERVICE_PATH,
  targets: metricsServerTargets,
};
