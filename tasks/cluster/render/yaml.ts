// The one YAML emitter of the project (configs, manifests, kubeconfigs, the encryption config): plain
// JSON data in, stable text out. Kubernetes reads JSON too, but YAML is what people open on a node to
// see why a component behaves as it does.
//
// Hand-written rather than the npm `yaml` package, on purpose: the renderers run while the target graph
// is built, synchronously, on every run including the no-op one (the rendered text's hash is part of
// each file target's key), so a library would be loaded at every start-up or the graph construction
// would have to become asynchronous. What we emit is a small subset of YAML (block mappings and
// sequences; plain, double-quoted and literal scalars) chosen so that every value has one safe spelling,
// and test/unit/yaml-emitter.test.ts holds it to the spec: random values, tricky strings included, are
// read back through a real parser (PyYAML) and must come back equal.

import type { Json } from '../../../lib/engine/target.ts';

type Scalar = string | number | boolean | null;

/**
 * Strings written unquoted: a letter, '_' or '/' (or '.' and a letter or '/') first, then only word
 * characters and . / : @ + = -. No such string is a number, a date or an indicator; the words below
 * are booleans or null in YAML 1.1 (which PyYAML and the Go parsers behind kubectl still follow) or
 * 1.2, and '.inf'/'.nan' are floats. Anything else is double-quoted.
 */
const PLAIN = /^(?:[A-Za-z_/]|\.[A-Za-z/])[\w./:@+=-]*$/;
const NOT_PLAIN = /^(true|false|yes|no|on|off|y|n|null|\.inf|\.nan)$/i;

/**
 * What a double-quoted scalar must escape beyond what JSON escapes: characters YAML does not allow
 * raw (DEL, C1 controls, U+FFFE/U+FFFF), line breaks of YAML 1.1 (U+0085, U+2028, U+2029), a BOM.
 */
const UNPRINTABLE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

/** A JSON string is a valid YAML double-quoted scalar once these are escaped too. */
function quoted(value: string): string {
  return JSON.stringify(value).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A number YAML 1.1 and 1.2 both read back as the same number: an exponent needs a dot before it in
 * YAML 1.1 (`1e+21` is a string there), so `1e+21` is written `1.0e+21`.
 */
function number(value: number): string {
  if (Number.isNaN(value)) return '.nan';
  if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
  const text = String(value);
  return text.includes('e') && !text.includes('.') ? text.replace('e', '.0e') : text;
}

function scalar(value: Scalar): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return number(value);
  if (typeof value === 'boolean') return String(value);
  const plain = PLAIN.test(value) && !NOT_PLAIN.test(value) && !value.endsWith(':');
  return plain ? value : quoted(value);
}

/** What may stand in a literal block: printable characters, tabs and '\n' (no other line break, no control character). */
const LITERAL_SAFE = /^[\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]*$/u;

/**
 * A multi-line string as a literal block (`key: |`), each line indented by `indent` spaces, or
 * undefined when it is double-quoted instead: when no line has content, when a line holds only spaces
 * or tabs (parsers disagree on whether such a line is text or an empty line), or when it has
 * characters a literal block would change (line breaks other than '\n', control characters). The
 * header says what the text alone cannot: `2` when the first line with content starts with a space
 * (the parser would take that space as indentation), and how many line breaks end it: `-` none,
 * nothing for one, `+` more.
 */
function literal(value: string, indent: number): { header: string; lines: string[] } | undefined {
  if (!value.includes('\n') || !/[^\n]/.test(value) || !LITERAL_SAFE.test(value)) return undefined;
  const trailing = value.length - value.replace(/\n+$/, '').length;
  const lines = (trailing > 0 ? value.slice(0, -1) : value).split('\n');
  if (lines.some((line) => line !== '' && /^[ \t]+$/.test(line))) return undefined;
  const first = lines.find((line) => line !== '')!;
  const header = `|${first.startsWith(' ') ? '2' : ''}${trailing === 0 ? '-' : trailing === 1 ? '' : '+'}`;
  const pad = ' '.repeat(indent);
  return { header, lines: lines.map((line) => (line === '' ? '' : `${pad}${line}`)) };
}

function inline(value: Json): string | undefined {
  if (value === null || typeof value !== 'object') return scalar(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : undefined;
  return Object.keys(value).length === 0 ? '{}' : undefined;
}

/** Parsers read an implicit key only up to 1024 characters; a longer key is written as `? key`. */
const LONGEST_KEY = 1000;

/** The lines of a non-empty mapping or sequence, each starting with `indent` spaces. */
function block(value: Json, indent: number): string[] {
  const pad = ' '.repeat(indent);
  const out: string[] = [];
  if (Array.isArray(value)) {
    for (const item of value) {
      const text = inline(item);
      if (text !== undefined) {
        out.push(`${pad}- ${text}`);
      } else if (Array.isArray(item)) {
        out.push(`${pad}-`, ...block(item, indent + 2));
      } else {
        // A mapping in a list: its first key shares the "- " line; the rest align under it.
        const inner = block(item, indent + 2);
        inner[0] = `${pad}- ${inner[0]!.slice(indent + 2)}`;
        out.push(...inner);
      }
    }
    return out;
  }
  for (const [key, child] of Object.entries(value as Record<string, Json>)) {
    const k = scalar(key);
    let head = `${pad}${k}:`;
    if (k.length > LONGEST_KEY) {
      out.push(`${pad}? ${k}`);
      head = `${pad}:`;
    }
    const lit = typeof child === 'string' ? literal(child, indent + 2) : undefined;
    if (lit) {
      out.push(`${head} ${lit.header}`, ...lit.lines);
      continue;
    }
    const text = inline(child);
    if (text !== undefined) out.push(`${head} ${text}`);
    else out.push(head, ...block(child, indent + 2));
  }
  return out;
}

/** Renders one YAML document. Key order is kept as given, so output is stable and diffs stay small. */
export function toYaml(value: Json): string {
  const text = inline(value);
  return `${text !== undefined ? text : block(value, 0).join('\n')}\n`;
}

/** Several documents separated by `---`, as `kubectl apply -f` reads them. */
export function toYamlDocuments(values: Json[]): string {
  return values.map((v) => toYaml(v)).join('---\n');
}
