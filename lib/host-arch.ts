// The build host's CPU architecture by the name Go, OCI image configs and Debian's dpkg use for it. Every
// binary and image the build makes is for this architecture (Go builds and the C compiler target the host),
// so a node must have the same one.

/** Node's process.arch → Go's name (also dpkg's for amd64 and arm64, the two the nodes may run). */
const GO_NAMES: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

/** `amd64`, `arm64`, …: Go's name for `arch` (default: this machine's), or Node's own name where Go has none. */
export function hostArch(arch: string = process.arch): string {
  return GO_NAMES[arch] ?? arch;
}
