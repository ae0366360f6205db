// PyYAML as an independent YAML parser for tests: what we emit is read back by a real parser, never
// compared with text we also wrote by hand. Debian's python3 with python3-yaml (.ci/run installs it).

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Debian's python3 first: a python3 earlier on PATH (pyenv, a venv) may lack PyYAML.
 */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** What PyYAML made of one YAML text: its documents as JSON, or the error it raised. */
export type Parsed = { docs: unknown[] } | { error: string };

// safe_load_all on each text. Whatever JSON cannot say faithfully is turned into a marker object that
// no emitted value can equal, so the comparison fails and names it: a non-string mapping key (json.dumps
// would silently turn 1, None or True into "1", "null", "true"), a non-finite float (".inf"), a date,
// bytes, a set. A number stays a number: "1" read as the integer 1 differs from the string "1".
const SCRIPT = String.raw`
import sys, json, math, yaml

def norm(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {'$pyyaml': 'non-finite float ' + repr(v)}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if not isinstance(k, str):
                return {'$pyyaml': 'non-string key ' + repr(k)}
            out[k] = norm(x)
        return out
    return {'$pyyaml': type(v).__name__ + ' ' + repr(v)}

results = []
for text in json.load(sys.stdin):
    try:
        results.append({'docs': [norm(d) for d in yaml.safe_load_all(text)]})
    except Exception as e:
        results.append({'error': type(e).__name__ + ': ' + str(e)})
json.dump(results, sys.stdout)
`;

/** Parses many YAML texts in one python3 process (a process per text would take minutes). */
export function parseYamlBatch(texts: string[]): Parsed[] {
  const out = execFileSync(PYTHON, ['-c', SCRIPT], { input: JSON.stringify(texts), maxBuffer: 1 << 30 });
  return JSON.parse(out.toString('utf8')) as Parsed[];
}

/** The documents of one YAML text; throws with PyYAML's message when it does not parse. */
export function parseYaml(text: string): unknown[] {
  const [result] = parseYamlBatch([text]);
  if ('error' in result!) throw new Error(`PyYAML could not read:\n${text}\n${result.error}`);
  return result!.docs;
}
