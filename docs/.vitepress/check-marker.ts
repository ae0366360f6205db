// The "look at it yourself" marker: how a chapter says that the shell block after it is a command the
// end-to-end test runs against the live cluster, where it runs, and what its output must contain.
//
//   <!-- check: node=worker-1 expect=/Active: active/ exit=0 retry=60 -->
//   ```sh
//   systemctl status kubelet --no-pager
//   ```
//
// Keys (all optional except at least one expect):
//   node=<name>     run inside that node (`docker exec <cluster>-<name> bash -c …`); absent = on the host
//   expect=/re/flg  a JavaScript regex the output (stdout + stderr) must match; may repeat
//   reject=/re/flg  a regex the output must NOT match; may repeat
//   exit=<n>|nonzero|any  expected exit status (default 0)
//   retry=<s>       keep retrying for up to s seconds until it passes (for things that settle)
//   timeout=<s>     per-attempt time limit in seconds (default 60)
// Shared by the VitePress config (which shows readers what is checked) and test/lib/doc-commands.ts.

export class MarkerError extends Error {
  hint: string;
  constructor(message: string, hint = 'see the marker syntax at the top of docs/.vitepress/check-marker.ts') {
    super(message);
    this.name = 'MarkerError';
    this.hint = hint;
  }
}

export type CheckSpec = {
  /** Node name (as in the cluster config), or null for the host. */
  node: string | null;
  expect: RegExp[];
  reject: RegExp[];
  /** Expected exit code, 'nonzero', or 'any' (only the output matters). */
  exit: number | 'nonzero' | 'any';
  retrySeconds: number;
  timeoutSeconds: number;
};

/** A marked command found in a Markdown file. */
export type MarkedCommand = CheckSpec & {
  /** File path as given to findMarkedCommands, and the 1-based line of the marker. */
  file: string;
  line: number;
  /** The shell text of the block, exactly as the reader sees it. */
  script: string;
};

const MARKER = /^<!--\s*check:(.*?)-->\s*$/;

/** Splits `key=value` pairs; a value starting with `/` runs to the closing unescaped `/` plus flags. */
function tokens(body: string, where: string): [string, string][] {
  const pairs: [string, string][] = [];
  let i = 0;
  while (i < body.length) {
    while (i < body.length && /\s/.test(body[i]!)) i++;
    if (i >= body.length) break;
    const eq = body.indexOf('=', i);
    if (eq === -1) throw new MarkerError(`${where}: "${body.slice(i).trim()}" is not key=value`);
    const key = body.slice(i, eq).trim();
    if (!/^[a-z]+$/.test(key)) throw new MarkerError(`${where}: bad key "${key}"`);
    i = eq + 1;
    let value = '';
    if (body[i] === '/') {
      let j = i + 1;
      while (j < body.length && body[j] !== '/') j += body[j] === '\\' ? 2 : 1;
      if (j >= body.length) throw new MarkerError(`${where}: the regex of ${key} has no closing /`);
      j++;
      while (j < body.length && /[a-z]/.test(body[j]!)) j++;
      value = body.slice(i, j);
      i = j;
    } else {
      const start = i;
      while (i < body.length && !/\s/.test(body[i]!)) i++;
      value = body.slice(start, i);
    }
    pairs.push([key, value]);
  }
  return pairs;
}

function regex(value: string, key: string, where: string): RegExp {
  const match = /^\/(.*)\/([a-z]*)$/s.exec(value);
  if (!match) throw new MarkerError(`${where}: ${key} must be a /regex/, got ${value}`);
  try {
    return new RegExp(match[1]!, match[2]);
  } catch (error) {
    throw new MarkerError(`${where}: ${key} ${value} is not a valid regex (${(error as Error).message})`);
  }
}

function seconds(value: string, key: string, where: string): number {
  const match = /^(\d+)s?$/.exec(value);
  if (!match) throw new MarkerError(`${where}: ${key} must be a number of seconds, got ${value}`);
  return Number(match[1]);
}

/** Parses the inside of a marker comment (everything after `check:`). */
export function parseMarker(body: string, where = 'marker'): CheckSpec {
  const spec: CheckSpec = { node: null, expect: [], reject: [], exit: 0, retrySeconds: 0, timeoutSeconds: 60 };
  for (const [key, value] of tokens(body, where)) {
    switch (key) {
      case 'node':
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) throw new MarkerError(`${where}: node "${value}" is not a node name`);
        spec.node = value;
        break;
      case 'expect':
        spec.expect.push(regex(value, key, where));
        break;
      case 'reject':
        spec.reject.push(regex(value, key, where));
        break;
      case 'exit':
        if (value === 'nonzero' || value === 'any') spec.exit = value;
        else if (/^\d+$/.test(value)) spec.exit = Number(value);
        else throw new MarkerError(`${where}: exit must be a number, "nonzero" or "any", got ${value}`);
        break;
      case 'retry':
        spec.retrySeconds = seconds(value, key, where);
        break;
      case 'timeout':
        spec.timeoutSeconds = seconds(value, key, where);
        break;
      default:
        throw new MarkerError(`${where}: unknown key "${key}" (known: node, expect, reject, exit, retry, timeout)`);
    }
  }
  if (spec.expect.length === 0) throw new MarkerError(`${where}: a check needs at least one expect=/…/ saying what the reader should see`);
  return spec;
}

/** Whether a line is a check marker (so the site can render it). */
export function markerBody(line: string): string | undefined {
  return MARKER.exec(line.trim())?.[1];
}

/**
 * Finds every marked command in one Markdown text. The marker must be followed (blank lines allowed)
 * by a ```sh or ```bash fence; anything else is an error, so a marker never silently checks nothing.
 */
export function findMarkedCommands(markdown: string, file: string): MarkedCommand[] {
  const lines = markdown.split('\n');
  const found: MarkedCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    const body = markerBody(lines[i]!);
    if (body === undefined) continue;
    const where = `${file}:${i + 1}`;
    const spec = parseMarker(body, where);
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === '') j++;
    const fence = /^(`{3,})\s*(sh|bash|shell)\b/.exec(lines[j] ?? '');
    if (!fence) throw new MarkerError(`${where}: a check marker must be followed by a \`\`\`sh block`, 'put the command in a ```sh fence right after the marker');
    const closing = fence[1]!;
    const start = j + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== closing) end++;
    if (end >= lines.length) throw new MarkerError(`${where}: the sh block after the marker is never closed`);
    const script = lines.slice(start, end).join('\n').trim();
    if (!script) throw new MarkerError(`${where}: the sh block after the marker is empty`);
    found.push({ ...spec, file, line: i + 1, script });
    i = end;
  }
  return found;
}

/**
 * A regex as readers would describe the text: anchors dropped, whitespace classes shown as a space, line
 * breaks as ⏎, escapes removed. Only for display; the check itself uses the regex.
 */
export function readablePattern(re: RegExp): string {
  return re.source
    .replace(/^\^|\$$/g, '')
    .replace(/\\n/g, ' ⏎ ')
    .replace(/\\s[+*?]?/g, ' ')
    .replace(/\\([^a-zA-Z0-9])/g, '$1');
}

/** A short human description of what a check expects, for the rendered page. */
export function describeSpec(spec: CheckSpec): string {
  const where = spec.node ? `inside ${spec.node}` : 'on the host';
  const what = spec.expect.map((r) => r.source).join(' and ');
  return `${where}; output must match ${what}${spec.exit === 0 || spec.exit === 'any' ? '' : `; exit ${spec.exit}`}`;
}
