// The version of every add-on, pinned here and only here; each is built from its Go module through the
// module proxy (no registry is reachable), so a version is a module version.

/**
 * MetalLB: v0.15.2, the newest release whose client libraries (k8s.io/client-go v0.33) are not newer than
 * the cluster's Kubernetes 1.34; v0.16.2 is built on client-go v0.37 and asks for Go 1.26.9's toolchain.
 */
export const METALLB_VERSION = 'v0.15.2';
