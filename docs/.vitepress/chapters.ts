// The tutorial's chapters in build order: one list that drives the sidebar, the graph pictures and the tests.

/** Which part of the target graph a chapter shows. */
export type ChapterGraph = {
  /** Targets, aliases or groups passed to `tasks.ts --graph` (the picture starts from their closure). */
  request: string[];
  /**
   * A regex source selecting the chapter's own targets from that closure; they are drawn with the
   * targets they read directly (faded). Absent: the whole closure is drawn.
   */
  focus?: string;
  /**
   * Size flags for that `--graph` call (e.g. `--control-planes 3`), for a picture of a cluster other than the
   * default one; `--graph` records no flag. Absent: the default cluster.
   */
  flags?: string[];
};

/** One chapter of the tutorial. */
export type Chapter = {
  /** Page file name without `.md`, relative to docs/. */
  slug: string;
  /** Title shown in the sidebar and the prev/next links. */
  title: string;
  /** The chapter's target graph, drawn at docs build time; null when the chapter has none. */
  graph: ChapterGraph | null;
  /** Whether the chapter must contain at least one command the end-to-end test runs (see test/lib/doc-commands.ts). */
  needsCheckedCommand: boolean;
  /**
   * Which test cluster runs the chapter's marked commands: absent, the end-to-end test's (one control plane,
   * test/integration/cluster-e2e.test.ts); 'ha', the 3-control-plane test's (test/integration/cluster-ha.test.ts);
   * 'addons-ingress', the Ingress and metrics add-ons' test's (test/integration/addons-ingress.test.ts: the
   * end-to-end cluster has no add-on); 'metallb', MetalLB's (test/integration/addons-metallb.test.ts).
   */
  cluster?: 'ha' | 'addons-ingress' | 'metallb';
};

/** The add-ons are off by default: their chapters' pictures are drawn from a spec that switches them on. */
const ADDONS_ON = ['--config', 'docs/scripts/addons-on.json'];

export const chapters: Chapter[] = [
  { slug: 'introduction', title: 'Introduction and prerequisites', graph: null, needsCheckedCommand: false },
  { slug: 'how-it-works', title: 'How this project works', graph: { request: ['kubeconfig:admin'] }, needsCheckedCommand: false },
  { slug: 'nodes', title: 'Nodes as containers', graph: { request: ['nodes'] }, needsCheckedCommand: true },
  { slug: 'network', title: 'The network and the IP plan', graph: { request: ['net'] }, needsCheckedCommand: true },
  { slug: 'pki', title: 'The PKI', graph: { request: ['certs'], focus: '^certs:(?!check$)' }, needsCheckedCommand: true },
  { slug: 'kubeconfigs', title: 'Kubeconfigs', graph: { request: ['kubeconfig'], focus: '^kubeconfig:' }, needsCheckedCommand: true },
  { slug: 'encryption', title: 'Encryption at rest', graph: { request: ['encryption'] }, needsCheckedCommand: true },
  { slug: 'binaries', title: 'Getting the binaries', graph: { request: ['binaries', 'images'], focus: '^(bin|image:(pause|echo|coredns)|load):' }, needsCheckedCommand: true },
  { slug: 'etcd', title: 'etcd', graph: { request: ['cluster:etcd-healthy'], focus: '^((install|unit):[^:]+:etcd|cluster:etcd)' }, needsCheckedCommand: true },
  {
    slug: 'control-plane',
    title: 'The control plane',
    graph: { request: ['cluster:apiserver-ready', 'cluster:kubelet-rbac'], focus: '^((install|unit):controller-1:(?!etcd|sysctl|node-sysctl|pod-routes)|cluster:(apiserver-ready|kubelet-rbac)$)' },
    needsCheckedCommand: true,
  },
  { slug: 'api-endpoint', title: 'The API endpoint', graph: { request: ['endpoint:config'], focus: '^(endpoint:|image:endpoint$)' }, needsCheckedCommand: true },
  { slug: 'workers', title: 'The workers', graph: { request: ['ready:worker-1:node'], focus: '^((install|unit):worker-1:|ready:worker-1:)' }, needsCheckedCommand: true },
  { slug: 'dns', title: 'Cluster DNS', graph: { request: ['cluster:coredns'], focus: '^(cluster:coredns|load:coredns@|image:coredns)' }, needsCheckedCommand: true },
  { slug: 'ingress', title: 'Ingress', graph: { request: ['addon:ingress'], focus: '^(addon:ingress|image:traefik|load:traefik@|certs:ingress-default)', flags: ADDONS_ON }, needsCheckedCommand: true, cluster: 'addons-ingress' },
  { slug: 'metrics', title: 'Metrics', graph: { request: ['addon:metrics-server'], focus: '^(addon:metrics-server|image:metrics-server|load:metrics-server@|certs:metrics-server)', flags: ADDONS_ON }, needsCheckedCommand: true, cluster: 'addons-ingress' },
  {
    slug: 'metallb',
    title: 'LoadBalancer Services: MetalLB',
    graph: { request: ['addon:metallb'], focus: '^(addon:metallb|load:metallb-[a-z]+@|image:metallb-|bin:metallb)' },
    needsCheckedCommand: true,
    cluster: 'metallb',
  },
  { slug: 'smoke-tests', title: 'Smoke tests', graph: { request: ['cluster:smoke'], focus: '^(cluster:smoke|cluster)$' }, needsCheckedCommand: true },
  { slug: 'conformance', title: 'Conformance', graph: null, needsCheckedCommand: true },
  {
    slug: 'high-availability',
    title: 'High availability',
    graph: { request: ['cluster:apiserver-ready'], focus: '^(endpoint:|image:endpoint$|cluster:(etcd-healthy|apiserver-ready)$)', flags: ['--control-planes', '3'] },
    needsCheckedCommand: true,
    cluster: 'ha',
  },
  { slug: 'day-two', title: 'Day two', graph: null, needsCheckedCommand: true },
  { slug: 'real-machines', title: 'On real machines', graph: null, needsCheckedCommand: true },
  { slug: 'troubleshooting', title: 'Troubleshooting', graph: null, needsCheckedCommand: true },
];

/** The pictures on the front page: the whole cluster by group, and every target of it (linked). */
export const frontPageGraph = { name: 'cluster', request: ['cluster'], fullName: 'cluster-full' };

/** Hand-drawn teaching diagrams, as DOT files in docs/diagrams/ rendered by the same pipeline. */
export const diagramDir = 'diagrams';
