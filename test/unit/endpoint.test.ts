// The API endpoint without Docker: the HAProxy config renderer (parsed back into sections and read for
// what it means), the runtime API parsers on HAProxy 2.6's own output, the endpoint's address in the IP
// plan and its checks, where each kubeconfig points, and the container probe's drift reasons.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type Dockerode from 'dockerode';
import { checkConfigFields, defaultConfig, defaultNodes, type ClusterConfig } from '../../tasks/config/config.ts';
import { ipPlanProblems, planIps } from '../../tasks/net/ip-plan.ts';
import { kubeconfigCatalog } from '../../tasks/certs/kubeconfig.ts';
import { renderHaproxyConfig, runningConfigId, serverStates } from '../../tasks/endpoint/render.ts';
import { endpointContainerSpec, endpointDrift, type EndpointContainer } from '../../tasks/endpoint/container.ts';
import { coreDnsManifests } from '../../tasks/cluster/render/addons.ts';
import { toYamlDocuments } from '../../tasks/cluster/render/yaml.ts';
import { parseYaml } from '../lib/pyyaml.ts';
import { projectTargets } from '../../tasks/index.ts';
import { leafCatalog } from '../../tasks/certs/catalog.ts';

/** HAProxy's config as sections: `global`, `defaults`, `frontend <name>`, `backend <name>` → their lines. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    if (/^(global|defaults|frontend|backend|listen)\b/.test(raw)) out.set(line, (current = []));
    else if (!current) throw new Error(`line outside a section: ${raw}`);
    else current.push(line);
  }
  return out;
}
/** The words after `keyword` on the one line of `lines` that starts with it. */
function directive(lines: string[], keyword: string): string[] {
  const found = lines.filter((l) => l === keyword || l.startsWith(`${keyword} `));
  assert.is(found.length, 1, `${keyword}: ${found.length} lines in\n${lines.join('\n')}`);
  return found[0]!.slice(keyword.length).trim().split(/\s+/).filter(Boolean);
}

const three = [
  { name: 'controller-1', ip: '10.244.0.10' },
  { name: 'controller-2', ip: '10.244.0.11' },
  { name: 'controller-3', ip: '10.244.0.12' },
];

test('the config sends TCP on the apiserver port to every control plane, health-checked on /readyz over TLS', () => {
  const { text, id } = renderHaproxyConfig({ backends: three, port: 6443 });
  const s = sections(text);
  assert.equal(directive(s.get('defaults')!, 'mode'), ['tcp']);
  const frontend = [...s.keys()].find((k) => k.startsWith('frontend '))!;
  const fe = s.get(frontend)!;
  assert.equal(directive(fe, 'bind'), [':6443']);
  const backendName = directive(fe, 'default_backend')[0]!;
  const be = s.get(`backend ${backendName}`);
  assert.ok(be, `the frontend's backend ${backendName} exists`);
  const servers = be!.filter((l) => l.startsWith('server ')).map((l) => l.split(/\s+/).slice(1, 3));
  assert.equal(servers, three.map((b) => [b.name, `${b.ip}:6443`]));
  assert.equal(directive(be!, 'option httpchk'), ['GET', '/readyz']);
  assert.equal(directive(be!, 'http-check expect'), ['status', '200']);
  // Every server inherits the check: over TLS, every 2 s, down after 2 failures, up after 2 passes.
  const check = directive(be!, 'default-server');
  for (const word of ['check', 'check-ssl']) assert.ok(check.includes(word), `${word} in ${check.join(' ')}`);
  const after = (word: string) => check[check.indexOf(word) + 1];
  assert.is(after('inter'), '2s');
  assert.is(after('fall'), '2');
  assert.is(after('rise'), '2');
  assert.is(after('verify'), 'none');
  assert.is(after('on-marked-down'), 'shutdown-sessions');
  // The running config names itself: the description is the id the target records.
  assert.equal(directive(s.get('global')!, 'description'), [id]);
  const socket = directive(s.get('global')!, 'stats socket');
  assert.ok(socket.join(' ').includes('expose-fd listeners'), 'the listening socket is handed over on reload');
});

test('the config id is the same for the same backends and changes when a control plane is added', () => {
  const a = renderHaproxyConfig({ backends: three.slice(0, 2), port: 6443 });
  const again = renderHaproxyConfig({ backends: three.slice(0, 2), port: 6443 });
  const b = renderHaproxyConfig({ backends: three, port: 6443 });
  assert.is(a.id, again.id);
  assert.is(a.text, again.text);
  assert.is.not(a.id, b.id);
  assert.is.not(renderHaproxyConfig({ backends: three, port: 7443 }).id, b.id);
  assert.throws(() => renderHaproxyConfig({ backends: [], port: 6443 }), /at least one control plane/);
});

test('runtime API: the running config id from show info, server states from show stat (HAProxy 2.6 output)', () => {
  // Trimmed from `echo 'show info' | socat stdio UNIX-CONNECT:/run/haproxy-admin.sock` in the endpoint container.
  const info = 'Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nNode: api\ndescription: harder-config-7b3ec40c8bbd90a4\nPid: 41\n';
  assert.is(runningConfigId(info), 'harder-config-7b3ec40c8bbd90a4');
  assert.is(runningConfigId('Name: HAProxy\nPid: 8\n'), undefined);
  const stat = [
    '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status',
    'kube-apiserver,FRONTEND,,,0,1,9986,3,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,',
    'kube-apiservers,controller-1,0,0,0,1,,2,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,12,0,,1,3,1,,2,,2,0,,1,L7OK',
    'kube-apiservers,controller-2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,2,1,3,3,,1,3,2,,0,,2,0,,0,L4TOUT',
    'kube-apiservers,BACKEND,0,0,0,1,999,2,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,12,0,,1,3,0,,2,,1,0,,1,',
  ].join('\n');
  assert.equal(serverStates(stat), [
    { backend: 'kube-apiservers', server: 'controller-1', status: 'UP', checkStatus: 'L7OK' },
    { backend: 'kube-apiservers', server: 'controller-2', status: 'DOWN', checkStatus: 'L4TOUT' },
  ]);
});

const config = (over: Partial<ClusterConfig>): ClusterConfig => ({ ...defaultConfig, ...over });
const fieldsAtFault = (c: ClusterConfig) => [...checkConfigFields(c).errors, ...ipPlanProblems(c)].map((p) => p.field);

test('the plan gives the endpoint host 2 of the node subnet; in-cluster clients use it only when the config balances', () => {
  const one = planIps(defaultConfig);
  assert.is(one.apiEndpointIp, '10.240.0.2');
  assert.is(one.apiServerUrl, `https://${one.nodes[0]!.ip}:6443`, 'one control plane: straight to it');
  const ha = planIps(config({ nodes: defaultNodes({ controlPlanes: 3, workers: 1 }), nodeSubnet: '10.244.0.0/24' }));
  assert.is(ha.apiEndpointIp, '10.244.0.2');
  assert.is(ha.apiServerUrl, 'https://10.244.0.2:6443');
  assert.is(planIps(config({ apiEndpoint: 'load-balancer' })).apiServerUrl, 'https://10.240.0.2:6443', 'asked for with one control plane');
  assert.is(planIps(config({ apiEndpointHost: 5 })).apiEndpointIp, '10.240.0.5');
  assert.not.ok(ha.nodes.some((n) => n.ip === ha.apiEndpointIp), 'no node has the endpoint address');
});

test('the endpoint address may not be a node\'s, the gateway or outside the subnet; the suggested host is free', () => {
  const clash = ipPlanProblems(config({ apiEndpointHost: 20 }));
  assert.equal(clash.map((p) => p.field), ['apiEndpointHost']);
  assert.match(clash[0]!.problem, /10\.240\.0\.20 is one of the workers'/);
  const free = Number(/apiEndpointHost (\d+)/.exec(clash[0]!.valid)?.[1]);
  assert.equal(fieldsAtFault(config({ apiEndpointHost: free })), [], `suggested ${free} is valid`);
  assert.equal(fieldsAtFault(config({ apiEndpointHost: 1 })), ['apiEndpointHost']);
  assert.equal(fieldsAtFault(config({ apiEndpointHost: 255 })), ['apiEndpointHost']);
  assert.equal(fieldsAtFault(config({ controlPlaneIpStart: 2 })), ['apiEndpointHost'], 'a control plane moved onto the default endpoint address');
  // A /29 has hosts 2-6: five addresses, so four nodes and the endpoint fit and five nodes do not.
  // (MetalLB off: its planned pool would be the top of so small a subnet, where these nodes are.)
  const metallbOff = { ...defaultConfig.addons, metallb: { enabled: false, pool: '' } };
  assert.equal(fieldsAtFault(config({ nodeSubnet: '10.240.0.0/29', apiEndpointHost: 6, controlPlaneIpStart: 2, workerIpStart: 3, nodes: defaultNodes({ controlPlanes: 1, workers: 3 }), addons: metallbOff })), []);
  assert.equal(fieldsAtFault(config({ nodeSubnet: '10.240.0.0/29', controlPlaneIpStart: 2, workerIpStart: 3, nodes: defaultNodes({ controlPlanes: 1, workers: 4 }) })), ['nodeSubnet']);
});

test('apiHostPort, apiEndpoint and the reserved node name are checked with the rest of the config', () => {
  for (const port of [0, 65536, 6443.5]) assert.equal(fieldsAtFault(config({ apiHostPort: port })), ['apiHostPort'], String(port));
  assert.equal(fieldsAtFault(config({ apiEndpoint: 'round-robin' as never })), ['apiEndpoint']);
  const named = checkConfigFields(config({ nodes: [{ name: 'controller-1', role: 'control-plane' }, { name: 'api', role: 'worker' }] })).errors;
  assert.equal(named.map((p) => p.field), ['nodes[1].name']);
  assert.match(named[0]!.problem, /harder-api/);
});

test('kubeconfigs: admin through 127.0.0.1:apiHostPort always; with 3 control planes kubelets and kube-proxy through the endpoint; controller-manager and scheduler to their own apiserver whatever the count', () => {
  const servers = (c: ClusterConfig) => Object.fromEntries(kubeconfigCatalog(c, planIps(c)).map((k) => [k.id, k.server]));
  const single = servers(config({ apiHostPort: 7001 }));
  assert.is(single['admin'], 'https://127.0.0.1:7001');
  for (const id of ['kube-proxy', 'kubelet:worker-1']) assert.is(single[id], 'https://10.240.0.10:6443', id);
  // The same with one control plane as with three: going from one to three leaves them (and their units) alone.
  for (const id of ['kube-controller-manager', 'kube-scheduler']) assert.is(single[id], 'https://127.0.0.1:6443', id);
  const ha = servers(config({ nodes: defaultNodes({ controlPlanes: 3, workers: 2 }) }));
  assert.is(ha['admin'], 'https://127.0.0.1:6443');
  for (const id of ['kube-proxy', 'kubelet:worker-1', 'kubelet:worker-2']) assert.is(ha[id], 'https://10.240.0.2:6443', id);
  for (const id of ['kube-controller-manager', 'kube-scheduler']) assert.is(ha[id], 'https://127.0.0.1:6443', id);
});

test('the container publishes the apiserver port on 127.0.0.1 only, at the planned address; its probe names each drift', () => {
  const spec = endpointContainerSpec({ clusterName: 'demo', image: 'harder-endpoint:x', network: 'demo', ip: '10.240.0.2', port: 6443, hostPort: 7001 });
  assert.is(spec.name, 'demo-api');
  assert.equal(spec.HostConfig!.PortBindings, { '6443/tcp': [{ HostIp: '127.0.0.1', HostPort: '7001' }] });
  assert.equal(spec.NetworkingConfig!.EndpointsConfig!['demo']!.IPAMConfig, { IPv4Address: '10.240.0.2' });
  const result: EndpointContainer = { container: 'demo-api', id: 'abc123', ip: '10.240.0.2', hostPort: 7001, port: 6443, key: 'k1' };
  const info = (over: { id?: string; running?: boolean; ip?: string; hostPort?: string; key?: string } = {}) =>
    ({
      Id: over.id ?? 'abc123',
      Config: { Labels: { 'harder.key': over.key ?? 'k1' } },
      State: { Running: over.running ?? true, Paused: false, Status: over.running === false ? 'exited' : 'running' },
      NetworkSettings: { Networks: { demo: { IPAddress: over.ip ?? '10.240.0.2' } } },
      HostConfig: { PortBindings: { '6443/tcp': [{ HostIp: '127.0.0.1', HostPort: over.hostPort ?? '7001' }] } },
    }) as unknown as Dockerode.ContainerInspectInfo;
  assert.is(endpointDrift(result, info(), 'demo'), undefined);
  assert.match(endpointDrift(result, undefined, 'demo')!, /does not exist/);
  assert.match(endpointDrift(result, info({ id: 'other' }), 'demo')!, /was replaced/);
  assert.match(endpointDrift(result, info({ running: false }), 'demo')!, /is stopped \(exited\)/);
  assert.match(endpointDrift(result, info({ ip: '10.240.0.3' }), 'demo')!, /has IP 10\.240\.0\.3/);
  assert.match(endpointDrift(result, info({ hostPort: '7002' }), 'demo')!, /does not publish 127\.0\.0\.1:7001/);
  assert.match(endpointDrift(result, info({ key: 'k2' }), 'demo')!, /another key label/);
});

test('CoreDNS reaches the API through the endpoint when given one, else through the kubernetes Service', () => {
  const container = (apiServer?: { host: string; port: number }) => {
    const docs = parseYaml(toYamlDocuments(coreDnsManifests({ image: 'coredns:x', clusterDnsIp: '10.32.0.10', clusterDomain: 'cluster.local', upstreams: [], replicas: 2, ...(apiServer ? { apiServer } : {}) }))) as any[];
    return docs.find((d) => d.kind === 'Deployment').spec.template.spec.containers[0];
  };
  assert.equal(container({ host: '10.244.0.2', port: 6443 }).env, [
    { name: 'KUBERNETES_SERVICE_HOST', value: '10.244.0.2' },
    { name: 'KUBERNETES_SERVICE_PORT', value: '6443' },
  ]);
  assert.is(container().env, undefined);
});

test('a cluster of SSH machines has no endpoint: no endpoint targets, admin, kubelets and kube-proxy straight to the first control plane, no endpoint SANs', () => {
  const machines = [
    { name: 'server', role: 'control-plane' as const, address: '192.168.64.2', user: 'root' },
    { name: 'server-2', role: 'control-plane' as const, address: '192.168.64.3', user: 'root' },
    { name: 'node-0', role: 'worker' as const, address: '192.168.64.20', user: 'root' },
  ];
  // A machine on host 2, the containers' endpoint address: no clash, since there is no endpoint.
  const c = config({ nodeSubnet: '192.168.64.0/24', machines, nodes: machines.map(({ name, role }) => ({ name, role })) });
  assert.equal(ipPlanProblems(c), []);
  const plan = planIps(c);
  assert.is(plan.apiEndpointIp, null);
  assert.is(plan.apiServerUrl, 'https://192.168.64.2:6443', 'two control planes, but no load balancer to go through');
  const servers = Object.fromEntries(kubeconfigCatalog(c, plan).map((k) => [k.id, k.server]));
  const { 'kube-controller-manager': kcm, 'kube-scheduler': scheduler, ...clients } = servers;
  assert.equal(new Set(Object.values(clients)), new Set(['https://192.168.64.2:6443']));
  assert.equal([kcm, scheduler], ['https://127.0.0.1:6443', 'https://127.0.0.1:6443'], 'each control plane\'s own apiserver');
  assert.equal(projectTargets(c).filter((t) => /^(endpoint:|image:endpoint)/.test(t.name)), []);
  const vars = leafCatalog(c, plan).find((x) => x.id === 'kube-apiserver:server')!.vars;
  assert.equal([vars['apiEndpointIp'], vars['apiEndpointName']], [[], []]);
});

test.run();
