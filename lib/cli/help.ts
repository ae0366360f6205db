// --help: usage, the targets grouped by group with descriptions, project commands, and flags.

import { groupOf, type AnyTarget } from '../engine/index.ts';
import { ENGINE_FLAGS, type ProjectFlag } from './args.ts';
import type { ProjectCommand } from './project.ts';

export function helpText(opts: {
  program: string;
  targets: readonly AnyTarget[];
  flags: readonly ProjectFlag[];
  commands: Record<string, ProjectCommand<never>>;
}): string {
  const { program } = opts;
  const lines = [
    `Usage: ${program} <target|alias|group…> [flags]`,
    `       ${program} clean:<target|alias|group> [--yes]`,
  ];
  for (const [name, command] of Object.entries(opts.commands)) lines.push(`       ${program} ${name} ${command.usage}`);
  lines.push('', 'A group name (the part before ":") stands for every target of that group.', '');
  const groups = new Map<string, AnyTarget[]>();
  for (const t of opts.targets) {
    const group = groupOf(t.name);
    groups.set(group, [...(groups.get(group) ?? []), t]);
  }
  const width = Math.min(40, Math.max(...opts.targets.map((t) => t.name.length), 8) + 2);
  lines.push('Targets:');
  for (const [group, members] of groups) {
    lines.push(`  ${group}`);
    for (const t of members) {
      const tags = [t.build ? '' : 'alias', t.precious ? 'precious' : '', t.alwaysRun ? 'always runs' : ''].filter(Boolean);
      lines.push(`    ${t.name.padEnd(width)} ${t.description}${tags.length ? ` [${tags.join(', ')}]` : ''}`);
    }
  }
  if (Object.keys(opts.commands).length) {
    lines.push('', 'Commands:');
    for (const [name, command] of Object.entries(opts.commands)) lines.push(`  ${`${name} ${command.usage}`.padEnd(width + 2)} ${command.description}`);
  }
  const flagLine = (names: string, description: string): string => `  ${names.padEnd(24)} ${description}`;
  if (opts.flags.length) {
    lines.push('', 'Project flags:');
    for (const flag of opts.flags) lines.push(flagLine(`--${flag.name}${flag.value ? ` ${flag.value}` : ''}`, flag.description));
  }
  lines.push('', 'Flags:');
  for (const flag of ENGINE_FLAGS) lines.push(flagLine(`${flag.names.join(', ')}${flag.value ? ` ${flag.value}` : ''}`, flag.description));
  return lines.join('\n') + '\n';
}
