// The error model (lib/errors.ts) and its renderer (lib/cli/render-error.ts): every kind renders, a failed command shows its command output block, and the model's module rules hold.

import { MachineError } from '../../lib/node/machine-error.ts';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, renderError, renderFailure } from '../../lib/cli/render-error.ts';
import { DockerError } from '../../lib/docker/errors.ts';
import { HttpStatusError } from '../../lib/download.ts';
import { EngineError, InvalidGraphError } from '../../lib/engine/errors.ts';
import {
  CliError,
  CommandError,
  ConfigError,
  ERROR_KINDS,
  HarderError,
  NodeCommandError,
  OptionError,
  StepError,
  ToolMissingError,
  type AnyHarderError,
  type ErrorKind,
} from '../../lib/errors.ts';
import { PkiInputError } from '../../lib/pki/errors.ts';

const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const goFailure = () =>
  new CommandError(
    { argv: ['go', 'build', '-o', 'out', './cmd/x'], exitCode: 2, tail: ['# example/cmd/x', './main.go:3:2: undefined: y'], cwd: '/work/mod' },
    { hint: 'fix the compile error' },
  );

/** One error of every kind. A Record over ErrorKind: a new kind does not compile until it has a sample here. */
const samples: Record<ErrorKind, () => HarderError> = {
  'duplicate-target': () => new EngineError('duplicate-target', 'two targets are named a', { target: 'a', hint: 'rename one' }),
  'unknown-dependency': () => new EngineError('unknown-dependency', 'b depends on c, which is not registered', { target: 'b' }),
  cycle: () => new EngineError('cycle', 'dependency cycle: a → b → a', { target: 'a' }),
  'bad-target': () => new EngineError('bad-target', 'target name "" is not valid'),
  'unknown-target': () => new EngineError('unknown-target', 'unknown target stpe', { hint: 'did you mean step?' }),
  'invalid-graph': () => new InvalidGraphError([new EngineError('cycle', 'dependency cycle: a → a', { hint: 'remove one' }), new EngineError('unknown-target', 'unknown target x')]),
  'missing-input': () => new EngineError('missing-input', 'input file in.txt does not exist', { target: 'a' }),
  'build-failed': () => new EngineError('build-failed', 'boom', { target: 'a' }),
  'bad-result': () => new EngineError('bad-result', 'the build returned a value that is not JSON', { target: 'a' }),
  'missing-output': () => new EngineError('missing-output', 'the build did not write out.txt', { target: 'a' }),
  'lock-held': () => new EngineError('lock-held', 'another run (pid 1) is using output', { hint: 'wait for it' }),
  'output-unwritable': () => new EngineError('output-unwritable', 'cannot write to output: permission denied'),
  'needs-yes': () => new EngineError('needs-yes', 'pki:ca is precious', { target: 'pki:ca', details: ['removes: pki:ca'], hint: 'run again with --yes' }),
  'precious-changed': () => new EngineError('precious-changed', 'pki:ca is precious and would be replaced', { target: 'pki:ca' }),
  'clean-failed': () => new EngineError('clean-failed', 'could not remove out.txt: EBUSY', { target: 'a' }),
  'bad-flag': () => new CliError('bad-flag', 'unknown flag --kep-going', 'did you mean --keep-going?'),
  'bad-option': () => new OptionError('--workers wants a whole number', 'e.g. --workers 2'),
  'bad-command-args': () => new CliError('bad-command-args', 'load needs at least one image name'),
  'bad-argument': () => new CliError('bad-argument', 'empty target name (argument 1 is "")'),
  'command-failed': goFailure,
  'tool-missing': () => new ToolMissingError('debootstrap', '`debootstrap` is not installed (not found on PATH)', 'apt-get install debootstrap'),
  'bad-input': () => new PkiInputError('csr/admin-csr.json', 'CN', 'is empty'),
  'download-failed': () => new HttpStatusError('https://dl.k8s.io/x', 404, 'Not Found'),
  'docker-failed': () => new DockerError('harder-worker-1: no such container (exec sh)', 'build the node first'),
  'machine-failed': () => new MachineError('worker-1', '10.0.0.21:22', 'host key unknown', 'add its line to output/ssh/known_hosts'),
  'step-failed': () => new StepError('no pause/CoreDNS versions recorded for Kubernetes 1.99', 'add a row'),
  internal: () => new HarderError('internal', 'x is not a function', {}),
};

test('every kind has a sample of that kind, and each renders as ✗ blocks without a missing case', () => {
  assert.equal(Object.keys(samples).sort(), [...ERROR_KINDS].sort());
  for (const kind of ERROR_KINDS) {
    const error = samples[kind]();
    assert.is(error.kind, kind);
    const text = renderError(error, false);
    assert.ok(text.startsWith('✗ '), `${kind}: ${text}`);
    assert.not.match(text, 'no rendering', kind);
    if (kind !== 'internal') assert.not.match(text, 'internal error', kind);
    if (error.hint && kind !== 'invalid-graph') assert.ok(text.endsWith(`  hint: ${error.hint}`), `${kind}: ${text}`);
  }
});

test('the switch is exhaustive at run time too: a kind it does not know throws', () => {
  const stranger = Object.assign(new HarderError('internal', 'x', {}), { kind: 'brand-new-kind' }) as unknown as AnyHarderError;
  assert.throws(() => describe(stranger, false), /no rendering for error kind brand-new-kind/);
});

test('a command failure shows its command output: the command line, then its last lines, under a heading', () => {
  assert.is(
    renderError(goFailure(), false),
    [
      '✗ `go build -o out ./cmd/x` exited 2',
      '  command output:',
      '    $ cd /work/mod && go build -o out ./cmd/x',
      '      # example/cmd/x',
      '      ./main.go:3:2: undefined: y',
      '  hint: fix the compile error',
    ].join('\n'),
  );
  // Thrown by a build: the target and the engine's frame, then the same block (once, not also in the headline).
  assert.is(
    renderFailure({ target: 'binaries:x', kind: 'build-failed', message: goFailure().message, hint: 'fix the compile error', cause: goFailure() }, false),
    [
      '✗ binaries:x: build failed: `go build -o out ./cmd/x` exited 2',
      '  command output:',
      '    $ cd /work/mod && go build -o out ./cmd/x',
      '      # example/cmd/x',
      '      ./main.go:3:2: undefined: y',
      '  hint: fix the compile error',
    ].join('\n'),
  );
});

test('a command in a node: the command line to run it again with docker exec; a clean failure frames it the same way', () => {
  const error = new NodeCommandError('harder-worker-1', ['sh', '-c', 'rm -r /x'], 1, '', 'rm: cannot remove /x: Device or resource busy\n');
  assert.is(
    renderFailure({ target: 'node:worker-1', kind: 'clean-failed', message: `clean failed: ${error.message}`, hint: error.hint, cause: error }, false),
    [
      "✗ node:worker-1: clean failed: harder-worker-1: `sh -c 'rm -r /x'` exited 1",
      '  command output:',
      "    $ docker exec harder-worker-1 sh -c 'rm -r /x'",
      '      rm: cannot remove /x: Device or resource busy',
      '  hint: look inside with `docker exec -it harder-worker-1 bash`',
    ].join('\n'),
  );
  const killed = new CommandError({ argv: ['debootstrap', 'bookworm', '/tmp/x'], signal: 'SIGKILL', tail: [] });
  assert.is(renderError(killed, false), ['✗ `debootstrap bookworm /tmp/x` ended by SIGKILL', '  command output:', '    $ debootstrap bookworm /tmp/x', '      (no output)'].join('\n'));
});

test('the headline names the program by its base name and cuts a long command short; the block shows it whole', () => {
  const argv = ['/usr/local/go/bin/go', 'build', '-v', '-trimpath', '-ldflags', '-s -w -X k8s.io/component-base/version.gitVersion=v1.34.1 -X k8s.io/client-go/pkg/version.gitVersion=v1.34.1', '-o', '/cache/bin/kubectl', 'k8s.io/kubernetes/cmd/kubectl'];
  const error = new CommandError({ argv, exitCode: 1, tail: ['error'] });
  const [headline, , line] = renderError(error, false).split('\n');
  assert.is(headline, "✗ `go build -v -trimpath -ldflags '-s -w -X k8s.io/component-base/version.gitVersion=v1.34.1 -X …` exited 1");
  assert.is(line, `    $ ${argv.slice(0, 5).join(' ')} '${argv[5]}' -o /cache/bin/kubectl k8s.io/kubernetes/cmd/kubectl`);
  assert.is(error.message, "`go build -v -trimpath -ldflags '-s -w -X k8s.io/component-base/version.gitVersion=v1.34.1 -X …` exited 1:\nerror");
  // A kubectl call keeps its subcommand in the headline.
  const kubectl = new CommandError({ argv: ['/root/.cache/harder/bin/v1.34.1/release/kubectl', '--kubeconfig', '/work/main/output/kubeconfig/admin.kubeconfig', 'get', 'pods', '-n', 'harder-smoke'], exitCode: 1, tail: [] });
  assert.is(kubectl.message, '`kubectl --kubeconfig /work/main/output/kubeconfig/admin.kubeconfig get pods -n harder-smoke` exited 1 (no output)');
});

test('the other kinds keep the messages users know', () => {
  assert.is(renderFailure({ target: 'step:2', kind: 'build-failed', message: 'step:2 was told to fail', hint: 'unset FIXTURE_FAIL', cause: new StepError('step:2 was told to fail', 'unset FIXTURE_FAIL') }, false), '✗ step:2: build failed: step:2 was told to fail\n  hint: unset FIXTURE_FAIL');
  assert.is(renderError(samples['needs-yes'](), false), '✗ pki:ca is precious\n    removes: pki:ca\n  hint: run again with --yes');
  assert.is(renderError(samples['invalid-graph'](), false), '✗ dependency cycle: a → a\n  hint: remove one\n✗ unknown target x');
  assert.is(renderError(new ConfigError(['cfg.json: workers: -1 is not ≥ 0; 0..100', 'cfg.json: clusterName: "A" is not a DNS label'], 'fix cfg.json'), false), '✗ cfg.json: workers: -1 is not ≥ 0; 0..100\n✗ cfg.json: clusterName: "A" is not a DNS label\n  hint: fix cfg.json');
  assert.is(renderError(samples['bad-input'](), false), '✗ csr/admin-csr.json, field "CN": is empty');
  assert.is(renderError(new TypeError('x is not a function'), false), '✗ internal error: x is not a function\n  hint: run again with --verbose for the stack trace');
  assert.match(renderError(new TypeError('x is not a function'), true), /^✗ internal error: x is not a function\n  hint: this is a bug in the engine or the CLI; please report it with the stack below\n    TypeError: x is not a function\n\s+at /);
  // A build that throws something that is not an expected error: its message, no hint, the stack with --verbose.
  assert.is(renderFailure({ target: 'a', kind: 'build-failed', message: 'oops', cause: new Error('oops') }, false), '✗ a: build failed: oops');
});

test('every error class carries its kind and facts', () => {
  const pki = new PkiInputError('csr/ca-config.json', 'signing.profiles.x.usages[0]', 'unknown usage "y"');
  assert.equal([pki.kind, pki.facts, pki.file, pki.field], ['bad-input', { file: 'csr/ca-config.json', field: 'signing.profiles.x.usages[0]' }, 'csr/ca-config.json', 'signing.profiles.x.usages[0]']);
  const http = new HttpStatusError('https://x/y', 500, 'Server Error');
  assert.equal([http.kind, http.facts, http.status, http.url], ['download-failed', { url: 'https://x/y', status: 500 }, 500, 'https://x/y']);
  const config = new ConfigError(['a', 'b']);
  assert.instance(config, OptionError);
  assert.equal([config.kind, config.problems, config.message], ['bad-option', ['a', 'b'], 'a\nb']);
  const engine = new EngineError('needs-yes', 'm', { target: 't', details: ['d'] });
  assert.equal([engine.target, engine.details, engine.facts], ['t', ['d'], { target: 't', details: ['d'] }]);
  assert.equal(new InvalidGraphError([engine]).problems, [engine]);
  for (const error of Object.values(samples).map((make) => make())) assert.is(error.name, error.constructor.name);
});

/** Every .ts file under a directory of the repository. */
function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

test('tasks/ takes its error classes from lib/errors.ts, not lib/cli; the error module imports nothing; no hint travels by duck typing', () => {
  const fromCli = /import\s*\{([^}]*)\}\s*from\s*'[./]*lib\/cli\/[^']*'/g;
  for (const file of sources('tasks')) {
    for (const match of readFileSync(join(root, file), 'utf8').matchAll(fromCli)) {
      const values = match[1]!.split(',').map((n) => n.trim()).filter((n) => n && !n.startsWith('type '));
      assert.equal(values.filter((n) => /Error$/.test(n)), [], `${file} imports error classes from lib/cli`);
    }
  }
  // Start-up: the CLI loads lib/errors.ts on every run.
  assert.not.match(readFileSync(join(root, 'lib/errors.ts'), 'utf8'), /^\s*import\s/m, 'lib/errors.ts must not import');
  for (const file of [...sources('lib'), ...sources('tasks')]) {
    const text = readFileSync(join(root, file), 'utf8');
    assert.not.match(text, /Object\.assign\(new Error/, `${file}: a hint tacked onto an Error`);
    assert.not.match(text, /'hint' in /, `${file}: hint found by duck typing`);
  }
});

test.run();
