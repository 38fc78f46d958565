import type { RenderResult } from '../rollout/render-all.js';

/** `ozg render` for people: one line per bundle folder, then where they are. */
export function formatRenderResult(result: RenderResult): string {
  const lines = result.bundles.map((b) => `${b.dir}  ${b.files} file(s)  hash ${b.hash.slice(0, 12)}`);
  return [...lines, `${result.bundles.length} bundle(s) written to ${result.out}`].join('\n');
}
