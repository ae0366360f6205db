// The target model's typing: a build that reads a dependency's result with the wrong type does not
// compile. `npm test` runs tsc first, and an unused @ts-expect-error is itself an error, so each
// expectation below is checked by the compiler; the runtime test checks the typed value flows through.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { target } from '../../lib/engine/target.ts';
import { build, tempProject } from '../fixtures/engine/helpers.ts';

type CaResult = { certPem: string; serial: number };

const ca = target({ name: 'pki:ca', description: 'CA', deps: {}, build: async (): Promise<CaResult> => ({ certPem: 'PEM', serial: 7 }) });

const admin = target({
  name: 'pki:admin',
  description: 'admin',
  deps: { ca },
  build: async (ctx) => {
    const serial: number = ctx.deps.ca.serial;
    // @ts-expect-error — the CA result has no `keyPem` field
    void ctx.deps.ca.keyPem;
    // @ts-expect-error — `serial` is a number, not a string
    const wrong: string = ctx.deps.ca.serial;
    void wrong;
    // @ts-expect-error — there is no dependency under the alias `root`
    void ctx.deps.root;
    return { signedBy: serial, pem: ctx.deps.ca.certPem };
  },
});

// @ts-expect-error — a result must be JSON: a Date is not
target({ name: 'bad', description: 'bad', deps: {}, build: async () => ({ when: new Date() }) });

test('typed dependency results flow to the build', async () => {
  const report = await build(tempProject('types'), { targets: [ca, admin], requested: ['pki:admin'] });
  assert.equal(report.entries['pki:admin']!.result, { signedBy: 7, pem: 'PEM' });
});

test.run();
