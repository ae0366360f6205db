// The version of every add-on, pinned here and only here; each is built from its Go module through the
// module proxy (no registry is reachable), so a version is a module version.

/**
 * MetalLB: v0.15.2, the newest release whose client libraries (k8s.io/client-go v0.33) are not newer than
 * the cluster's Kubernetes 1.34; v0.16.2 is built on client-go v0.37 and asks for Go 1.26.9's toolchain.
 */
export const METALLB_VERSION = 'v0.15.2';

/** sigs.k8s.io/metrics-server: its v0.8 line supports Kubernetes 1.31+ (upstream's compatibility matrix). */
export const METRICS_SERVER_VERSION = 'v0.8.0';

/**
 * github.com/traefik/traefik/v3. Not the newest, v3.7.x: its go.mod replaces github.com/traefik/traefik/dynamic/ext
 * with a directory of its repository that is not in the module zip and that the module proxy does not
 * serve, and its lego v5 pulls DNS-provider modules the proxy here refuses (403), so v3.7 cannot be built
 * from the proxy. v3.6.12 resolves completely (all 2,495 packages of its graph, 277 of them the standard library's).
 */
export const TRAEFIK_VERSION = 'v3.6.12';
