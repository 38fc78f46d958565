import { formatHold } from './format-plan.js';
import type { RolloutResult } from '../rollout/rollout.js';

/** The end-of-run summary for people: one line per site and environment. */
export function formatRolloutSummary(result: RolloutResult): string {
  const lines: string[] = [];
  const counts = new Map<string, number>();
  for (const site of result.sites) {
    counts.set(site.result, (counts.get(site.result) ?? 0) + 1);
    for (const item of site.items) {
      const envs = item.environments
        .map((e) => `${e.environment}: ${e.status}${e.release && e.status !== 'skipped' ? ` (${e.release})` : ''}`)
        .join(', ');
      lines.push(`${site.site}  ${item.procedure} ${item.version}  ${envs}`);
      for (const e of item.environments) if (e.error) lines.push(`    ${e.environment}: ${e.error.split('\n').join('\n    ')}`);
      for (const e of item.environments) if (e.status === 'held' && e.hold) lines.push(`    ${e.environment}: ${formatHold(e.hold)}`);
    }
    if (site.items.length === 0) lines.push(`${site.site}  ${site.result}`);
  }
  const total = [...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push(`${result.sites.length} site(s): ${total || 'nothing selected'}`);
  const held = result.sites.flatMap((s) => s.items.flatMap((i) => i.environments)).filter((e) => e.status === 'held').length;
  if (held > 0) lines.push(`${held} target(s) held by a rollback and skipped: \`ozg unhold <site> -p <procedure> -e <env>\` releases one`);
  return lines.join('\n');
}
