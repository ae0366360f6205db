// VitePress configuration of the tutorial site: the sidebar comes from chapters.ts (build order), dead
// internal links fail the build, and the "look at it yourself" markers are rendered as a visible note.

import { defineConfig } from 'vitepress';
import { chapters } from './chapters.ts';
import { describeSpec, markerBody, parseMarker, readablePattern } from './check-marker.ts';

/** Site base path: `/` locally; the Pages workflow sets DOCS_BASE to `/<repository>/`. */
const base = process.env.DOCS_BASE ?? '/';

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export default defineConfig({
  title: 'harder',
  description: 'Kubernetes the hard way, step by step, as a typed task graph on Docker containers',
  base,
  lang: 'en',
  cleanUrls: false,
  lastUpdated: false,
  // The default is already false; said out loud because the docs build relies on it to fail on a dead link.
  ignoreDeadLinks: false,
  head: [['link', { rel: 'icon', href: `${base}favicon.svg`, type: 'image/svg+xml' }]],
  themeConfig: {
    nav: [
      { text: 'Tutorial', link: `/${chapters[0]!.slug}` },
      { text: 'Troubleshooting', link: '/troubleshooting' },
    ],
    sidebar: [
      {
        text: 'The tutorial, in build order',
        items: chapters.map((c, i) => ({ text: `${i + 1}. ${c.title}`, link: `/${c.slug}` })),
      },
    ],
    outline: { level: [2, 3] },
    search: { provider: 'local' },
    footer: { message: 'Every picture is drawn from the code; every marked command is run by the end-to-end test.' },
  },
  markdown: {
    config(md) {
      // A check marker is an HTML comment; show readers that the block below is tested and what it must print.
      const fallback = md.renderer.rules.html_block;
      md.renderer.rules.html_block = (tokens, idx, options, env, self) => {
        const body = markerBody(tokens[idx]!.content);
        if (body !== undefined) {
          const spec = parseMarker(body, (env as { relativePath?: string }).relativePath ?? 'markdown');
          return `<div class="doc-check" title="${escapeHtml(describeSpec(spec))}"><span class="doc-check-badge">tested</span> ` +
            `${spec.node ? `run inside <code>${escapeHtml(spec.node)}</code>` : 'run on the host'}` +
            `${spec.exit === 'nonzero' ? ', fails on purpose' : ''}; you should see ` +
            `${spec.expect.map((r) => `<code>${escapeHtml(readablePattern(r))}</code>`).join(' and ')}` +
            `${spec.reject.length ? `, and not ${spec.reject.map((r) => `<code>${escapeHtml(readablePattern(r))}</code>`).join(' or ')}` : ''}</div>\n`;
        }
        return fallback ? fallback(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options);
      };
    },
  },
});
