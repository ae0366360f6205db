// The machine preflight's decisions on what a machine reports (a recording fake node answers the facts
// command): the architecture must be its spec entry's (default the build host's), every problem is named at once, and nothing but
// the one read-only command runs. The facts command itself runs on real machines in ssh-machines.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FakeNode } from '../../lib/node/fake.ts';
import { hostArch } from '../../lib/host-arch.ts';
import { archProblem, machinePreflight } from '../../tasks/nodes/machine-preflight.ts';

type Facts = { uid?: string; os?: string; init?: string; arch?: string; swap?: string; cgroup?: string };

/** A machine that answers the preflight's command with `facts` (a healthy amd64 Debian 12 by default). */
function machine(facts: Facts = {}): FakeNode {
  const node = new FakeNode('node-0');
  const all = { uid: '0', os: 'debian 12', init: 'systemd', arch: 'amd64', swap: '0', cgroup: 'v1', ...facts };
  node.onExec = (argv) => {
    if (argv[0] !== 'bash' || argv[1] !== '-c') return undefined;
    const stdout = Object.entries(all).map(([k, v]) => `@@${k}=${v}`).join('\n') + '\n';
    return { stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), exitCode: 0 };
  };
  return node;
}

const login = { user: 'root', address: '192.168.64.20:22' };

async function refusal(run: () => Promise<unknown>): Promise<{ message: string; hint?: string }> {
  try {
    await run();
  } catch (error) {
    return { message: (error as Error).message, hint: (error as { hint?: string }).hint };
  }
  throw new Error('expected the preflight to refuse the machine');
}

test('hostArch: Go names for Node names, the build host by default', () => {
  assert.is(hostArch('x64'), 'amd64');
  assert.is(hostArch('arm64'), 'arm64');
  assert.is(hostArch('ppc64'), 'ppc64le');
  assert.is(hostArch('mips'), 'mips');
  assert.is(hostArch(), process.arch === 'x64' ? 'amd64' : process.arch);
});

test('a machine of the build host architecture passes when its entry gives no arch, amd64 with amd64 and arm64 with arm64', async () => {
  const amd = machine();
  assert.equal(await machinePreflight(amd, login, undefined, { buildArch: 'amd64' }), { os: 'debian 12', arch: 'amd64', cgroup: 'v1' });
  assert.equal(amd.mutatingExecs(), [], 'the preflight runs read-only');
  const arm = machine({ arch: 'arm64', cgroup: 'v2' });
  assert.equal(await machinePreflight(arm, login, undefined, { buildArch: 'arm64' }), { os: 'debian 12', arch: 'arm64', cgroup: 'v2' });
});

test('a machine of another architecture passes when its entry names it (cross-built binaries and images)', async () => {
  const arm = machine({ arch: 'arm64', cgroup: 'v2' });
  assert.equal(await machinePreflight(arm, login, undefined, { expected: 'arm64', buildArch: 'amd64' }), { os: 'debian 12', arch: 'arm64', cgroup: 'v2' });
  const amd = machine();
  assert.equal(await machinePreflight(amd, login, undefined, { expected: 'amd64', buildArch: 'arm64' }), { os: 'debian 12', arch: 'amd64', cgroup: 'v1' });
});

test('an arm64 machine whose entry gives no arch is refused by name, and the hint names the field to add', async () => {
  const { message, hint } = await refusal(() => machinePreflight(machine({ arch: 'arm64' }), login, undefined, { buildArch: 'amd64' }));
  assert.is(message, "node-0 (192.168.64.20:22): it is arm64, and its spec entry gives no arch, which means the build host's (amd64)");
  assert.is(hint, 'add "arch": "arm64" to its entry in machines: its binaries and images are then cross-built for arm64');
});

test('a machine that is not what its entry says is refused, and so is a machine of neither architecture', async () => {
  const wrong = await refusal(() => machinePreflight(machine(), login, undefined, { expected: 'arm64', buildArch: 'amd64' }));
  assert.ok(wrong.message.endsWith('it is amd64, not arm64 as its spec entry says'), wrong.message);
  assert.ok(wrong.hint?.includes('set "arch": "amd64"'), wrong.hint);
  const other = await refusal(() => machinePreflight(machine({ arch: 'armhf' }), login, undefined, { buildArch: 'amd64' }));
  assert.ok(other.message.endsWith('its architecture is armhf; the nodes must be amd64 or arm64'), other.message);
  assert.is(archProblem('s390x', 's390x', 's390x')?.problem, 'its architecture is s390x; the nodes must be amd64 or arm64');
  assert.is(archProblem('arm64', undefined, 'arm64'), undefined);
  assert.is(archProblem('arm64', 'arm64', 'amd64'), undefined);
});

test('every problem is named in one refusal, the architecture among them', async () => {
  const { message, hint } = await refusal(() => machinePreflight(machine({ arch: 'arm64', swap: '1', os: 'ubuntu 24.04' }), login, undefined, { buildArch: 'amd64' }));
  assert.ok(message.includes('it runs ubuntu 24.04, not Debian 12 (bookworm)'), message);
  assert.ok(message.includes('it is arm64, and its spec entry gives no arch'), message);
  assert.ok(message.includes('swap is on'), message);
  assert.ok(hint?.includes('install Debian 12') && hint.includes('swapoff -a') && hint.includes('"arch": "arm64"'), hint);
});

test.run();
