// A small YAML emitter for the config files and manifests we render: plain JSON data in, stable text out.
// Kubernetes reads JSON too, but YAML is what people open on a node to see why a component behaves as it does.

import type { Json } from '../../../lib/target.ts';

type Scalar = string | number | boolean | null;

/** Strings YAML would read as something else (numbers, booleans, null) or that need escaping are quoted. */
function scalar(value: Scalar): string {
  if (value === null) return 'null';
  if (typeof value !== 'string') return String(value);
  const plain =
    /^[A-Za-z_/.][\w./:@+=-]*$/.test(value) &&
    !/^(true|false|yes|no|on|off|null|y|n)$/i.test(value) &&
    !value.endsWith(':') &&
    !value.includes(': ');
  return plain ? value : JSON.stringify(value);
}

function inline(value: Json): string | undefined {
  if (value === null || typeof value !== 'object') return scalar(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : undefined;
  return Object.keys(value).length === 0 ? '{}' : undefined;
}

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
    const head = `${pad}${scalar(key)}:`;
    if (typeof child === 'string' && child.includes('\n')) {
      out.push(`${head} |`);
      for (const line of child.replace(/\n$/, '').split('\n')) out.push(line === '' ? '' : `${pad}  ${line}`);
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
