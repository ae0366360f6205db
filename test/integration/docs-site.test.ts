// The tutorial site in a real browser: builds it with `npm run docs:build`, serves the result on
// 127.0.0.1, opens it in Debian's chromium (playwright-core, no downloaded browser), follows the sidebar
// through every chapter, checks every graph picture rendered with real nodes, and saves screenshots.
// Also proves the build fails on a dead page link and the link checker on a dead anchor.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { chapters } from '../../docs/.vitepress/chapters.ts';
import { checkSite } from '../../docs/scripts/check-links.ts';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const dist = join(root, 'docs', '.vitepress', 'dist');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml',
  '.json': 'application/json', '.png': 'image/png', '.woff2': 'font/woff2', '.txt': 'text/plain',
};

/** A static file server for the built site on 127.0.0.1 (an ephemeral port), as GitHub Pages would serve it. */
async function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const rel = normalize(path).replace(/^(\.\.[/\\])+/, '');
    const candidates = rel.endsWith('/') ? [join(dir, rel, 'index.html')] : [join(dir, rel), join(dir, `${rel}.html`)];
    for (const file of candidates) {
      try {
        const body = await readFile(file);
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(body);
        return;
      } catch {
        // try the next candidate
      }
    }
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end(await readFile(join(dir, '404.html')).catch(() => 'not found'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('server has no port');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

function run(argv: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

test('a dead page link fails the VitePress build; a dead anchor fails the link checker', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'docs-dead-link-'));
  try {
    // VitePress resolves vue from the site's directory upwards: give the temporary site the project's modules.
    await symlink(join(root, 'node_modules'), join(dir, 'node_modules'));
    await mkdir(join(dir, 'site'));
    await writeFile(join(dir, 'site', 'index.md'), '# Home\n\n## Real heading\n\n[a page](./other.md) [anchor](./other.md#real-heading)\n');
    await writeFile(join(dir, 'site', 'other.md'), '# Other\n\n## Real heading\n\n[back](./index.md#real-heading)\n');
    const vitepress = join(root, 'node_modules', '.bin', 'vitepress');
    const good = run([vitepress, 'build', 'site'], dir);
    assert.is(good.code, 0, good.output);
    assert.equal(await checkSite(join(dir, 'site', '.vitepress', 'dist')), []);

    await writeFile(join(dir, 'site', 'other.md'), '# Other\n\n## Real heading\n\n[gone](./missing-page.md) [bad anchor](./index.md#no-such-heading)\n');
    const dead = run([vitepress, 'build', 'site'], dir);
    assert.is.not(dead.code, 0, 'the build must fail on a dead link');
    assert.match(dead.output, /dead link/i);
    assert.match(dead.output, /missing-page/);

    // Anchors are not VitePress's business: with only the bad anchor, the build passes and the checker fails.
    await writeFile(join(dir, 'site', 'other.md'), '# Other\n\n## Real heading\n\n[bad anchor](./index.md#no-such-heading) ![pic](./pic.svg)\n');
    await writeFile(join(dir, 'site', 'pic.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
    const anchorOnly = run([vitepress, 'build', 'site'], dir);
    assert.is(anchorOnly.code, 0, anchorOnly.output);
    const problems = await checkSite(join(dir, 'site', '.vitepress', 'dist'));
    assert.equal(problems.map((p) => [p.page, p.link]), [['/other.html', './#no-such-heading']]);
    assert.match(problems[0]!.problem, /no element with id "no-such-heading"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('npm run docs:build builds the site with every graph and no broken internal link', () => {
  const started = Date.now();
  const r = run(['npm', 'run', '--silent', 'docs:build'], root, { ...process.env, DOCS_BASE: '/' });
  assert.is(r.code, 0, r.output);
  assert.match(r.output, /check-links: no broken internal links/);
  console.log(`  docs:build took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const c of chapters) assert.ok(existsSync(join(dist, `${c.slug}.html`)), `${c.slug}.html was not built`);
});

test('in chromium: the front page graph, then every chapter through the sidebar, each graph rendered', async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  const { server, url } = await serve(dist);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const badResponses: string[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(url) && r.status() >= 400) badResponses.push(`${r.status()} ${r.url()}`);
    });

    /** Every graph picture on the page loaded, and is a Graphviz SVG with nodes (not a placeholder). */
    const checkGraphs = async (where: string, atLeast: number): Promise<number> => {
      const graphs = page.locator('.vp-doc img.graph');
      const count = await graphs.count();
      assert.ok(count >= atLeast, `${where}: expected at least ${atLeast} graph picture(s), found ${count}`);
      for (let i = 0; i < count; i++) {
        const img = graphs.nth(i);
        await img.scrollIntoViewIfNeeded();
        await page.waitForFunction((el) => (el as HTMLImageElement).complete, await img.elementHandle(), { timeout: 10_000 });
        const info = await img.evaluate(async (el: HTMLImageElement) => {
          const svg = await (await fetch(el.src)).text();
          return { src: el.getAttribute('src'), width: el.naturalWidth, nodes: (svg.match(/class="node"/g) ?? []).length, placeholder: svg.includes('data-placeholder') };
        });
        assert.ok(info.width > 0, `${where}: ${info.src} did not render`);
        assert.not.ok(info.placeholder, `${where}: ${info.src} is a placeholder (the graph could not be drawn at build time)`);
        assert.ok(info.nodes > 0, `${where}: ${info.src} has no graph nodes`);
      }
      return count;
    };

    await page.goto(`${url}/`);
    await page.locator('.VPHero').waitFor();
    assert.match(await page.locator('.VPHero .name').innerText(), /harder/);
    await checkGraphs('front page', 1);
    await page.screenshot({ path: join(root, 'output', 'docs-screenshot.png'), fullPage: true });

    await page.locator('.VPHero a', { hasText: 'Start the tutorial' }).click();
    let graphsSeen = 1;
    for (const [i, chapter] of chapters.entries()) {
      if (i > 0) {
        // Follow the sidebar, as a reader would.
        await page.locator('.VPSidebar a', { hasText: `${i + 1}. ${chapter.title}` }).click();
      }
      await page.waitForURL(new RegExp(`/${chapter.slug}\\.html$`));
      const h1 = page.locator('.vp-doc h1').first();
      await h1.waitFor();
      assert.ok((await h1.innerText()).length > 0, `${chapter.slug}: no title`);
      // The sidebar marks the current chapter once the client-side router has settled.
      const marked = await page
        .waitForFunction((prefix) => document.querySelector('.VPSidebarItem.is-active .text')?.textContent?.trim().startsWith(prefix) ?? false, `${i + 1}. `, { timeout: 5000 })
        .then(() => true, () => false);
      assert.ok(marked, `${chapter.slug}: the sidebar does not mark the chapter active`);
      const next = chapters[i + 1];
      if (next) {
        const href = await page.locator('a.pager-link.next').getAttribute('href');
        assert.ok(href?.endsWith(`/${next.slug}.html`), `${chapter.slug}: "next" points to ${href}, expected ${next.slug}`);
      }
      graphsSeen += await checkGraphs(chapter.slug, chapter.graph ? 1 : 0);
      if (chapter.slug === 'pki') {
        await page.locator('img.graph[src*="diagram-tls-trust"]').scrollIntoViewIfNeeded();
        await page.screenshot({ path: join(root, 'output', 'docs-screenshot-pki.png') });
      }
    }
    assert.ok(graphsSeen >= chapters.filter((c) => c.graph).length + 1);
    assert.equal(badResponses, [], 'requests to the site that failed');
    assert.equal(pageErrors, [], 'JavaScript errors on the pages');
    console.log(`  browsed ${chapters.length} chapters, ${graphsSeen} graph pictures rendered; screenshots in output/`);
  } finally {
    await browser?.close();
    server.close();
  }
});

test.run();
