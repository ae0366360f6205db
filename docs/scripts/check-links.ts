// Checks the built site for broken internal links: every href/src that stays on the site must name a
// file that exists, and every #fragment must name an id on the target page. VitePress already fails the
// build on a dead page link; this also catches dead anchors, missing images and missing graph pictures.
//
// Usage: npx tsx docs/scripts/check-links.ts [distDir]   (default docs/.vitepress/dist; base from DOCS_BASE)

import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type LinkProblem = { page: string; link: string; problem: string };

function decodeEntities(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

async function htmlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await htmlFiles(path)));
    else if (entry.name.endsWith('.html')) out.push(path);
  }
  return out;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** The ids a page defines (anchors a link may point at). */
export function pageIds(html: string): Set<string> {
  const ids = new Set<string>();
  for (const m of html.matchAll(/\s(?:id|name)="([^"]*)"/g)) ids.add(decodeEntities(m[1]!));
  return ids;
}

/** Internal link targets of a page: href and src attributes that are not external or special schemes. */
export function pageLinks(html: string): string[] {
  // Inline <script> bodies hold JSON with href-like strings that are not links; drop them before scanning.
  const markup = html.replace(/<script\b[^>]*>[\s\S]*?<\/script>/g, (tag) => tag.slice(0, tag.indexOf('>') + 1));
  const links: string[] = [];
  for (const m of markup.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
    const link = decodeEntities(m[1]!);
    if (/^[a-z][a-z0-9+.-]*:/i.test(link) || link.startsWith('//')) continue; // http:, mailto:, data:, javascript:
    links.push(link);
  }
  return links;
}

/** Checks every page of a built site. `base` is the site's base path (`/` or `/repo/`). */
export async function checkSite(distDir: string, base = '/'): Promise<LinkProblem[]> {
  const problems: LinkProblem[] = [];
  const idCache = new Map<string, Set<string>>();
  const idsOf = async (file: string): Promise<Set<string>> => {
    let ids = idCache.get(file);
    if (!ids) {
      ids = pageIds(await readFile(file, 'utf8'));
      idCache.set(file, ids);
    }
    return ids;
  };
  for (const file of await htmlFiles(distDir)) {
    const page = '/' + relative(distDir, file).split('\\').join('/');
    const html = await readFile(file, 'utf8');
    for (const link of pageLinks(html)) {
      const [pathPart = '', fragment] = link.split('#', 2) as [string, string | undefined];
      const cleanPath = pathPart.split('?')[0]!;
      let target: string;
      if (cleanPath === '') {
        target = file;
      } else {
        let sitePath: string;
        if (cleanPath.startsWith('/')) {
          if (!cleanPath.startsWith(base)) {
            problems.push({ page, link, problem: `absolute link outside the base path ${base}` });
            continue;
          }
          sitePath = '/' + cleanPath.slice(base.length);
        } else {
          sitePath = posix.join(posix.dirname(page), cleanPath);
        }
        sitePath = decodeURIComponent(sitePath);
        const candidates = sitePath.endsWith('/')
          ? [join(distDir, sitePath, 'index.html')]
          : [join(distDir, sitePath), join(distDir, `${sitePath}.html`), join(distDir, sitePath, 'index.html')];
        const found = await (async () => {
          for (const c of candidates) if (await isFile(c)) return c;
          return undefined;
        })();
        if (!found) {
          problems.push({ page, link, problem: 'no such file in the built site' });
          continue;
        }
        target = found;
      }
      if (fragment && target.endsWith('.html')) {
        const id = decodeURIComponent(fragment);
        if (!(await idsOf(target)).has(id)) {
          problems.push({ page, link, problem: `no element with id "${id}" on ${'/' + relative(distDir, target)}` });
        }
      }
    }
  }
  return problems;
}

async function main(): Promise<void> {
  const docsDir = resolve(fileURLToPath(import.meta.url), '../..');
  const distDir = resolve(process.argv[2] ?? join(docsDir, '.vitepress', 'dist'));
  const base = process.env.DOCS_BASE ?? '/';
  const problems = await checkSite(distDir, base);
  for (const p of problems) console.error(`broken link on ${p.page}: ${p.link} — ${p.problem}`);
  if (problems.length) {
    console.error(`check-links: ${problems.length} broken internal link(s) in ${distDir}`);
    process.exit(1);
  }
  console.log(`check-links: no broken internal links in ${relative(process.cwd(), distDir) || distDir}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`check-links: ${(error as Error).message}`);
    process.exit(1);
  });
}
