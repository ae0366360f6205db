// The run resource every step reaches nodes through: each run's NodeFleet over Docker containers, reading
// what the run's registered targets declare for each node (declareNodeReads), closed when the run ends.

import { dockerNodes } from '../../lib/docker/node-access.ts';
import { runResource } from '../../lib/engine/resources.ts';
import { NodeFleet, nodeReadsOf } from '../../lib/node/fleet.ts';

/** `nodeFleet.of(ctx)` in a build or probe; a test hands a run a fake one with `provide(nodeFleet, fakeFleet(…))`. */
export const nodeFleet = runResource<NodeFleet>({
  name: 'nodes',
  create: ({ targets }) => {
    const docker = dockerNodes();
    return new NodeFleet({ connect: docker.connect, declared: nodeReadsOf(targets), close: docker.close });
  },
  dispose: (fleet) => fleet.close(),
});
