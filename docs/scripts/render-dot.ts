// Turns Graphviz DOT text into SVG with @viz-js/viz (Graphviz compiled to WebAssembly), so building the
// docs needs no system package.

import { instance, type Viz } from '@viz-js/viz';

/** A DOT text that Graphviz refused, or that produced a picture with nothing in it. */
export class DotRenderError extends Error {
  hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'DotRenderError';
    this.hint = hint;
  }
}

let vizPromise: Promise<Viz> | undefined;

/** One Graphviz instance per process: creating it compiles the WebAssembly module, which takes a while. */
function viz(): Promise<Viz> {
  vizPromise ??= instance();
  return vizPromise;
}

/** How many graph nodes an SVG produced by Graphviz contains (each is a `<g class="node">`). */
export function countSvgNodes(svg: string): number {
  return (svg.match(/<g id="[^"]*" class="node"/g) ?? []).length;
}

/**
 * Renders `dot` to SVG. `source` names where the DOT came from, for the error message.
 * Throws DotRenderError on a syntax error or when the picture has no nodes (an empty graph teaches nothing
 * and usually means the target names were wrong).
 */
export async function renderDot(dot: string, source: string): Promise<string> {
  const result = (await viz()).render(dot, { format: 'svg', engine: 'dot' });
  if (result.status !== 'success') {
    const messages = result.errors.map((e) => `${e.level ?? 'error'}: ${e.message.trim()}`).join('; ');
    throw new DotRenderError(`${source}: Graphviz could not render the DOT text (${messages})`, 'fix the DOT syntax; run `dot -Tsvg` on it to see the same message');
  }
  const svg = result.output;
  if (countSvgNodes(svg) === 0) {
    throw new DotRenderError(`${source}: the rendered graph has no nodes`, 'check that the target names given to --graph exist (npx tsx tasks.ts --help)');
  }
  return svg;
}
