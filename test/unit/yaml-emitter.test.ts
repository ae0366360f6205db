// The YAML emitter (tasks/cluster/render/yaml.ts) against a real parser: random nested values, strings
// chosen to trip YAML up included, are emitted and read back by PyYAML and must come back equal. A
// failure is shrunk to a small value and printed with its YAML and what PyYAML made of it, and the
// run's seed, to replay it: HARDER_TEST_SEED=<seed> npx tsx test/run.ts yaml-emitter.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Json } from '../../lib/engine/target.ts';
import { toYaml, toYamlDocuments } from '../../tasks/cluster/render/yaml.ts';
import { parseYaml, parseYamlBatch, type Parsed } from '../lib/pyyaml.ts';
import { random, runSeed, type Random } from '../lib/random.ts';

/** Strings that mean something else to YAML, or need care, in some position. */
const TRICKY: string[] = [
  // numbers, special floats, dates, in YAML 1.1 or 1.2
  '0', '-1', '+1', '6443', '00', '017', '0o17', '0x1F', '0b101', '1_000', '1,000', '1.', '1.0', '.5', '-.5', '+.5', '.5.',
  '1e3', '1e+21', '1E-7', '.inf', '-.inf', '+.inf', '.Inf', '.INF', '.nan', '.NaN', '1:20', '12:30:45', '2001-12-14',
  '2001-12-14t21:59:43.10-05:00', '10.0.0.1', '10.32.0.0/24',
  // booleans and null
  'true', 'False', 'TRUE', 'yes', 'No', 'on', 'OFF', 'y', 'N', 'null', 'Null', 'NULL', '~', '',
  // indicators and comments
  '#', '# c', 'a #b', 'a#b', ':', ': ', 'a: b', 'a:', ':a', 'a:b', '-', '- ', '- a', '--', '---', '...', '.', '..', '.git',
  '?', '? a', '!', '!tag', '!!str', '&a', '*a', '%YAML 1.2', '@x', '`x', '|', '>', '|-', '{', '}', '[', ']', '{a: 1}', '[a]',
  ',', 'a,b', '=', '<<', 'a=b', '"', "'", "'a'", '"a"', 'a"b', "a'b", '\\', '\\n', 'http://x:1/y', '/etc/kubernetes',
  // spaces, tabs, line breaks
  ' ', '   ', ' a', 'a ', ' a ', '\t', 'a\tb', '\ta', 'a b', '\n', '\n\n', 'a\n', '\na', 'a\nb', 'a\nb\n', 'a\n\n', 'a\n\n\n',
  '\n\na', ' a\nb', '  indented\n  both\n', 'a\n b', '\ta\nb', ' \n ', 'a\n  ', '  \na', '\n  a', 'line\n\n\nend\n\n',
  'a\r\nb', 'a\rb', 'a\n---\nb', 'a\n...\nb', '- a\n- b', 'key: v\nother: w\n', '# not a comment\n',
  // other characters
  'é', '日本語', '🎉', '\u00a0', 'a\u0000b', '\u0007', '\u001b[0m', '\u007f', '\u0080', '\u0085', 'a\u0085b', '\u009f',
  'a\u2028b', '\u2029', '\ufeff', 'x\ufeffy', '\ufffe', '\uffff', 'line\u0085\nnext',
];

/** Pieces random strings are made of. */
const PIECES = ['a', 'Z', 'key', '0', '9', '.', '-', '_', '/', ':', ' ', '  ', '\n', '\t', '#', '"', "'", '\\', '{', '[', ',', '&', '*', '!', '|', '>', '%', '@', '`', '=', '~', '?', 'é', '🎉', '\r', '\u0085', '\u2028', '\u0000', '\u007f', 'true', 'null', '.inf', '1e3'];

function randomString(r: Random): string {
  if (r.chance(0.45)) return r.pick(TRICKY);
  if (r.chance(0.03)) return 'x'.repeat(r.int(1020, 1100)); // longer than a parser reads as an implicit key
  let s = '';
  for (let n = r.int(0, 7); n > 0; n--) s += r.pick(PIECES);
  return s;
}

const NUMBERS = [0, -0, 1, -1, 42, 6443, 0.5, -0.25, 3.14159, 1e21, -1e21, 1e-7, 5e-324, Number.MAX_VALUE, 2 ** 53, 123456789012, 1e100];

function randomScalar(r: Random): Json {
  const kind = r.int(0, 9);
  if (kind < 6) return randomString(r);
  if (kind < 8) return r.chance(0.5) ? r.pick(NUMBERS) : r.chance(0.5) ? r.int(-1e6, 1e6) : r.next() * 10 ** r.int(-10, 25);
  if (kind < 9) return r.chance(0.5);
  return null;
}

function randomValue(r: Random, depth: number): Json {
  if (depth >= 4 || r.chance(depth === 0 ? 0.15 : 0.45)) return randomScalar(r);
  if (r.chance(0.4)) return Array.from({ length: r.int(0, 4) }, () => randomValue(r, depth + 1));
  const out: Record<string, Json> = {};
  for (let n = r.int(0, 5); n > 0; n--) out[r.chance(0.4) ? r.pick(['name', 'kind', 'apiVersion', 'spec', 'data']) : randomString(r)] = randomValue(r, depth + 1);
  return out;
}

/** Text with every character outside printable ASCII (and '\n') spelled \u{…}, so a report shows what is there. */
const visible = (text: string): string => text.replace(/[^\x20-\x7e\n]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);

/** Why PyYAML's reading of `yaml` is not `[value]`, or undefined when it is. */
function mismatch(value: Json | Json[], docs: boolean, parsed: Parsed): string | undefined {
  if ('error' in parsed) return `PyYAML refused it: ${visible(parsed.error)}`;
  try {
    assert.equal(parsed.docs, docs ? value : [value]);
    return undefined;
  } catch {
    return `PyYAML read ${visible(JSON.stringify(parsed.docs))}`;
  }
}

/** Smaller values of the same shape, for shrinking a failure. */
function smaller(value: Json): Json[] {
  if (typeof value === 'string') {
    const out: string[] = [];
    if (value.length > 1) out.push(value.slice(0, value.length >> 1), value.slice(value.length >> 1));
    for (let i = 0; i < value.length && i < 40; i++) out.push(value.slice(0, i) + value.slice(i + 1));
    return out;
  }
  if (value === null || typeof value !== 'object') return [];
  if (Array.isArray(value)) {
    return [...value, ...value.map((_, i) => value.filter((__, j) => j !== i)), ...value.flatMap((v, i) => smaller(v).map((s) => value.map((x, j) => (j === i ? s : x))))];
  }
  const entries = Object.entries(value);
  return [
    ...entries.map(([, v]) => v),
    ...entries.map((_, i) => Object.fromEntries(entries.filter((__, j) => j !== i))),
    ...entries.flatMap(([k, v], i) => smaller(v).map((s) => Object.fromEntries(entries.map(([k2, v2], j) => [k2, j === i ? s : v2])))),
    ...entries.flatMap(([k], i) => smaller(k).map((s) => Object.fromEntries(entries.map(([k2, v2], j) => [j === i ? s : k2, v2])))),
  ];
}

/** Shrinks a failing value while it still fails, checking candidates in batches. */
function shrink(value: Json): Json {
  let current = value;
  for (let step = 0; step < 200; step++) {
    const candidates = smaller(current).slice(0, 400);
    if (candidates.length === 0) break;
    const results = parseYamlBatch(candidates.map((c) => toYaml(c)));
    const i = candidates.findIndex((c, j) => mismatch(c, false, results[j]!) !== undefined);
    if (i === -1) break;
    current = candidates[i]!;
  }
  return current;
}

test('random values round-trip through PyYAML: toYaml emits what it was given', () => {
  const seed = runSeed();
  const r = random(seed);
  const values = Array.from({ length: 600 }, () => randomValue(r, 0));
  const results = parseYamlBatch(values.map((v) => toYaml(v)));
  const failures = values.flatMap((v, i) => (mismatch(v, false, results[i]!) === undefined ? [] : [v]));
  if (failures.length === 0) return;
  // Shrunk and deduplicated, the few smallest first.
  const shrunk = [...new Map(failures.slice(0, 5).map(shrink).map((v) => [JSON.stringify(v), v])).values()];
  const report = shrunk.map((v) => `value ${visible(JSON.stringify(v))}\n--- toYaml:\n${visible(toYaml(v))}--- ${mismatch(v, false, parseYamlBatch([toYaml(v)])[0]!)}`);
  assert.unreachable(`seed ${seed}: ${failures.length} of ${values.length} values do not round-trip; shrunk:\n\n${report.join('\n\n')}`);
});

test('random document lists round-trip through PyYAML: toYamlDocuments keeps each document', () => {
  const seed = runSeed();
  const r = random(seed);
  const lists = Array.from({ length: 100 }, () => Array.from({ length: r.int(1, 4) }, () => randomValue(r, 0)));
  const results = parseYamlBatch(lists.map((docs) => toYamlDocuments(docs)));
  lists.forEach((docs, i) => {
    const problem = mismatch(docs, true, results[i]!);
    assert.is(problem, undefined, `seed ${seed}: ${visible(JSON.stringify(docs))}\n--- toYamlDocuments:\n${visible(toYamlDocuments(docs))}--- ${problem}`);
  });
});

// What the property test found in the first emitter, kept as plain cases so they stay fixed whatever the seed.
test('strings that look like numbers, floats or markers stay strings', () => {
  const value = { half: '.5', inf: '.inf', negInf: '-.inf', nan: '.NaN', end: '...', dot: '.', git: '.git', exp: '1e3' };
  assert.equal(parseYaml(toYaml(value)), [value]);
  assert.equal(parseYaml(toYaml('...')), ['...']);
  // Kubernetes-looking strings stay unquoted: output people read, and unchanged by the fixes.
  assert.is(toYaml({ a: 'apps/v1', b: '/var/lib/kubelet', c: '.git', d: 'system:node:worker-1' }), 'a: apps/v1\nb: /var/lib/kubelet\nc: .git\nd: system:node:worker-1\n');
});

test('multi-line strings: no newline added or lost, indented first lines, blank lines kept', () => {
  const value = {
    noNewline: 'a\nb',
    oneNewline: 'a\nb\n',
    twoNewlines: 'a\n\n',
    indentedFirst: '  indented\nnot\n',
    blankThenIndented: '\n  a',
    spacesOnlyFirst: '  \na',
    onlyNewlines: '\n\n',
    withCarriageReturn: 'a\r\nb',
    withNel: 'line\u0085\nnext',
  };
  assert.equal(parseYaml(toYaml(value)), [value]);
  assert.equal(parseYaml(toYaml([{ corefile: '.:53 {\n    errors\n}\n', x: 1 }])), [[{ corefile: '.:53 {\n    errors\n}\n', x: 1 }]]);
});

test('numbers come back as the same numbers; characters YAML cannot hold raw are escaped', () => {
  const value = { big: 1e21, small: 1e-7, tiny: 5e-324, max: Number.MAX_VALUE, negZero: 0, control: '\u007f\u0085\u2028\ufeff', key: 'x'.repeat(1100) };
  assert.equal(parseYaml(toYaml(value)), [value]);
  assert.equal(parseYaml(toYaml({ ['k'.repeat(1100)]: { nested: ['a'] } })), [{ ['k'.repeat(1100)]: { nested: ['a'] } }]);
});

test.run();
