// summarizeNames: a few names are listed; many are counted per group, biggest group first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { summarizeNames } from '../../lib/engine/summarize.ts';

test('lists up to the limit name by name', () => {
  assert.is(summarizeNames(['a:1', 'b:2', 'c']), 'a:1, b:2, c');
  assert.is(summarizeNames([]), '');
});

test('counts per group past the limit, biggest group first, ties by name', () => {
  const names = ['install:w1:a', 'install:w1:b', 'install:w2:a', 'unit:w1:kubelet', 'unit:w2:kubelet', 'ready:w1:node', 'cluster'];
  assert.is(summarizeNames(names, 3), '7 targets: install (3), unit (2), cluster (1), ready (1)');
});

test.run();
