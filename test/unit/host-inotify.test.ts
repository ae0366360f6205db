// The inotify warning: silent at or above kind's recommended limits, one line naming each low limit and
// the sysctl that raises it otherwise, and silent where /proc cannot be read.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inotifyLimitWarning } from '../../tasks/host/inotify.ts';

const procWith = (values: Record<string, string>) => (path: string) => {
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (!(name in values)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return `${values[name]}\n`;
};

test("the kernel's default 128 instances is named with the command that raises it", () => {
  const warning = inotifyLimitWarning(procWith({ max_user_instances: '128', max_user_watches: '524288' }));
  assert.ok(warning);
  assert.match(warning, /fs\.inotify\.max_user_instances is 128/);
  assert.match(warning, /sudo sysctl -w fs\.inotify\.max_user_instances=512$/);
  assert.not.match(warning, /max_user_watches/);
});

test('both limits low: both named, one command', () => {
  const warning = inotifyLimitWarning(procWith({ max_user_instances: '128', max_user_watches: '8192' }));
  assert.match(warning!, /max_user_instances is 128, fs\.inotify\.max_user_watches is 8192/);
  assert.match(warning!, /sysctl -w fs\.inotify\.max_user_instances=512 fs\.inotify\.max_user_watches=524288$/);
});

test('at or above the recommended values, or with no /proc: no warning', () => {
  assert.is(inotifyLimitWarning(procWith({ max_user_instances: '512', max_user_watches: '1048576' })), undefined);
  assert.is(inotifyLimitWarning(procWith({})), undefined);
  assert.is(inotifyLimitWarning(procWith({ max_user_instances: 'garbage', max_user_watches: '524288' })), undefined);
});

test.run();
