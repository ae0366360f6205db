// Renders systemd unit files from a small typed description, so every unit reads the same way and a
// flag change shows up as one changed line.

/** Command-line flags in the order given; `true` renders as a bare `--flag=true`, lists join with commas. */
export type Flags = Record<string, string | number | boolean | string[] | undefined>;

export type UnitSpec = {
  description: string;
  documentation?: string;
  after?: string[];
  requires?: string[];
  wants?: string[];
  before?: string[];
  /** [Service] keys other than ExecStart, in order (Type, Restart, ...). Lists render as repeated keys. */
  service: Record<string, string | number | string[]>;
  /** The program and its flags; each flag goes on its own continued line. */
  exec: { path: string; flags?: Flags; args?: string[] };
  /** Commands run before ExecStart, as ExecStartPre= lines (a leading `-` on the program ignores failure). */
  execStartPre?: string[][];
  /** Extra commands run in order as separate ExecStart= lines (oneshot units only). */
  moreExec?: string[][];
  wantedBy?: string;
};

export function renderFlags(flags: Flags): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(',') : String(value);
    out.push(`--${name}=${text}`);
  }
  return out;
}

/** Quotes an argument for an ExecStart line when systemd would otherwise split or expand it. */
function quoteArg(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export function renderUnit(spec: UnitSpec): string {
  const lines: string[] = ['[Unit]', `Description=${spec.description}`];
  if (spec.documentation) lines.push(`Documentation=${spec.documentation}`);
  if (spec.after?.length) lines.push(`After=${spec.after.join(' ')}`);
  if (spec.before?.length) lines.push(`Before=${spec.before.join(' ')}`);
  if (spec.requires?.length) lines.push(`Requires=${spec.requires.join(' ')}`);
  if (spec.wants?.length) lines.push(`Wants=${spec.wants.join(' ')}`);
  lines.push('', '[Service]');
  for (const [key, value] of Object.entries(spec.service)) {
    for (const item of Array.isArray(value) ? value : [value]) lines.push(`${key}=${item}`);
  }
  for (const pre of spec.execStartPre ?? []) lines.push(`ExecStartPre=${pre.map(quoteArg).join(' ')}`);
  const argv = [spec.exec.path, ...renderFlags(spec.exec.flags ?? {}), ...(spec.exec.args ?? [])].map(quoteArg);
  lines.push(`ExecStart=${argv.join(' \\\n  ')}`);
  for (const more of spec.moreExec ?? []) lines.push(`ExecStart=${more.map(quoteArg).join(' ')}`);
  lines.push('', '[Install]', `WantedBy=${spec.wantedBy ?? 'multi-user.target'}`);
  return `${lines.join('\n')}\n`;
}
