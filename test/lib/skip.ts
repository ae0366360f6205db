// Names every skipped test in the output, so test/run.ts can list it and check uvu's count against it.
//
// uvu's `test.skip` only bumps a counter and drops the name; `test.only` leaves the rest of its file unrun
// and uvu counts those as skipped too, so from uvu's summary alone neither can be told apart. Importing this
// module (test/run.ts preloads it with `--import`) wraps uvu's default `test` so that each skip prints a
// `[skip] "<name>": <reason>` line and each `.only` an `[only] "<name>"` line. Tests that run only under a
// condition use `testIf`, which registers them as skipped, with the reason, when the condition does not hold.

import { test, type Callback } from 'uvu';

/** The line printed for a skipped test; test/uvu-summary.ts reads it back. */
export const skipLine = (name: string, reason: string): string => `[skip] ${JSON.stringify(name)}: ${reason}\n`;
/** The line printed for a `test.only`; its file fails in test/run.ts. */
export const onlyLine = (name: string): string => `[only] ${JSON.stringify(name)}\n`;

// The wrapper keeps uvu's own skip, so testIf can count a skip without printing a second, reasonless line;
// it is wrapped once even if this module were loaded twice.
type Wrapped = typeof test.skip & { uvuSkip?: typeof test.skip };

if (!(test.skip as Wrapped).uvuSkip) {
  const uvuSkip = test.skip.bind(test);
  const uvuOnly = test.only.bind(test);
  const skip: Wrapped = (name, fn) => {
    process.stdout.write(skipLine(name ?? '(unnamed)', 'test.skip'));
    uvuSkip(name, fn);
  };
  skip.uvuSkip = uvuSkip;
  test.skip = skip;
  test.only = (name, fn) => {
    process.stdout.write(onlyLine(name));
    uvuOnly(name, fn);
  };
}

/**
 * `test` when `condition` holds; otherwise a stand-in that counts the test as skipped and prints why.
 * Usage: `testIf(process.env.CI === 'true', 'runs only with CI=true')('name', async () => { … })`.
 */
export function testIf(condition: boolean, reason: string): (name: string, fn: Callback) => void {
  if (condition) return test;
  return (name) => {
    process.stdout.write(skipLine(name, reason));
    (test.skip as Wrapped).uvuSkip!(name);
  };
}
