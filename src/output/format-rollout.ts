import { formatProblem } from '../errors.js';
import type { RolloutResult } from '../rollout/rollout.js';

/** The end-of-run summary for people: one line per site and environment. */
export function formatRolloutSummary(result: RolloutResult): string {
  const lines: string[] = [];
  const counts = new Map<string, number>();
  for (const site of result.sites) {
    const kind = site.problems ? 'invalid' : site.result;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    for (const item of site.items) {
      const envs = item.environments
        .map((e) => `${e.environment}: ${e.status}${e.release && e.status !== 'skipped' ? ` (${e.release})` : ''}`)
        .join(', ');
      lines.push(`${site.site}  ${item.procedure} ${item.version}  ${envs}`);
      for (const e of item.environments) {
        if (e.error) lines.push(`    ${e.environment}: ${e.error.split('\n').join('\n    ')}`);
        if (e.error && e.hint) lines.push(`      hint: ${e.hint.split('\n').join('\n      ')}`);
      }
    }
    if (site.problems) lines.push(`${site.site}  failed: invalid input, not deployed`, ...site.problems.map((p) => `    ${formatProblem(p)}`));
    else if (site.items.length === 0) lines.push(`${site.site}  ${site.result}${site.reason && site.result === 'skipped' ? ` (${site.reason})` : ''}`);
  }
  const total = [...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push(`${result.sites.length} site(s): ${total || 'nothing selected'}`);
  return lines.join('\n');
}
