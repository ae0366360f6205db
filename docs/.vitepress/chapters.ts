// The tutorial's chapters in build order: one list that drives the sidebar, the graph pictures and the tests.

/** One chapter of the tutorial. */
export type Chapter = {
  /** Page file name without `.md`, relative to docs/. */
  slug: string;
  /** Title shown in the sidebar and the prev/next links. */
  title: string;
  /**
   * Targets (exact names or group names) whose graph is drawn for this chapter with `tasks.ts --graph`.
   * Empty when the chapter has no target graph of its own.
   */
  graph: string[];
  /** Whether the chapter must contain at least one command the end-to-end test runs (see test/lib/doc-commands.ts). */
  needsCheckedCommand: boolean;
};

export const chapters: Chapter[] = [
  { slug: 'introduction', title: 'Introduction and prerequisites', graph: [], needsCheckedCommand: false },
  { slug: 'how-it-works', title: 'How this project works', graph: ['net:plan'], needsCheckedCommand: false },
  { slug: 'nodes', title: 'Nodes as containers', graph: ['nodes'], needsCheckedCommand: true },
  { slug: 'network', title: 'The network and the IP plan', graph: ['net'], needsCheckedCommand: true },
  { slug: 'pki', title: 'The PKI', graph: ['certs'], needsCheckedCommand: true },
  { slug: 'kubeconfigs', title: 'Kubeconfigs', graph: ['kubeconfigs'], needsCheckedCommand: true },
  { slug: 'encryption', title: 'Encryption at rest', graph: ['encryption'], needsCheckedCommand: true },
  { slug: 'binaries', title: 'Getting the binaries', graph: ['binaries'], needsCheckedCommand: true },
  { slug: 'etcd', title: 'etcd', graph: ['etcd'], needsCheckedCommand: true },
  { slug: 'control-plane', title: 'The control plane', graph: ['control-plane'], needsCheckedCommand: true },
  { slug: 'workers', title: 'The workers', graph: ['workers'], needsCheckedCommand: true },
  { slug: 'dns', title: 'Cluster DNS', graph: ['dns'], needsCheckedCommand: true },
  { slug: 'smoke-tests', title: 'Smoke tests', graph: ['cluster:smoke'], needsCheckedCommand: true },
  { slug: 'day-two', title: 'Day two', graph: [], needsCheckedCommand: true },
  { slug: 'troubleshooting', title: 'Troubleshooting', graph: [], needsCheckedCommand: true },
];

/** The picture on the front page: the whole cluster. */
export const frontPageGraph = { name: 'cluster', targets: ['cluster'] };

/** Hand-drawn teaching diagrams, as DOT files in docs/diagrams/ rendered by the same pipeline. */
export const diagramDir = 'diagrams';
