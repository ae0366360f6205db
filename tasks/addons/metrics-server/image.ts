// image:metrics-server: sigs.k8s.io/metrics-server built from its Go module, FROM scratch, under upstream's name.

import { goModuleImageTarget } from '../../images/go-image.ts';
import { METRICS_SERVER_VERSION } from '../versions.ts';

export const METRICS_SERVER_IMAGE = `registry.k8s.io/metrics-server/metrics-server:${METRICS_SERVER_VERSION}`;

/** `arch`: the CPU of the workers it is for (default: the build host's). */
export function metricsServerImageTarget(arch?: string) {
  const version = METRICS_SERVER_VERSION;
  return goModuleImageTarget({
    name: 'metrics-server',
    description: `${METRICS_SERVER_IMAGE}: the resource metrics API (kubectl top), built from the sigs.k8s.io/metrics-server Go module`,
    tag: METRICS_SERVER_IMAGE,
    module: 'sigs.k8s.io/metrics-server',
    version,
    package: 'sigs.k8s.io/metrics-server/cmd/metrics-server',
    fallbackGo: '1.24.0',
    // Upstream's Makefile sets client-go's version (what --version prints and the User-Agent carries).
    ldflags: ['-s', '-w', `-X k8s.io/client-go/pkg/version.gitVersion=${version}`],
    versionCheck: { versionArgs: ['--version'], versionOutput: [version] },
    // Any non-root user: it writes nothing but what the Deployment mounts.
    settings: { user: '65534:65534', entrypoint: ['/metrics-server'] },
  }, arch);
}
