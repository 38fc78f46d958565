import type { RolloutResult } from '../rollout/rollout.js';

export interface RolloutSummaryOptions {
  /** Ctrl-C or SIGTERM ended the run: say what was done, what was not, and how to go on */
  interrupted?: boolean;
  /** the exact command that continues the rollout */
  resumeCommand?: string;
}

/** The end-of-run summary for people: one line per site and environment. */
export function formatRolloutSummary(result: RolloutResult, options: RolloutSummaryOptions = {}): string {
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
    }
    if (site.items.length === 0) lines.push(`${site.site}  ${site.result}`);
  }
  const total = [...counts.entries()].map(([k, v]) => `${v} ${k}`).join(', ');
  lines.push(`${result.sites.length} site(s): ${total || 'nothing selected'}`);
  if (options.interrupted) lines.push(...describeInterruption(result, options.resumeCommand));
  return lines.join('\n');
}

/** Sites done, stopped between two steps, and not started; then the command that goes on. */
function describeInterruption(result: RolloutResult, resumeCommand = 'ozg deploy --resume'): string[] {
  const skipped = result.sites.filter((s) => s.result === 'skipped');
  const partWay = skipped.filter((s) => s.items.length > 0).length;
  const parts = [`${result.sites.length - skipped.length} site(s) done`, ...(partWay > 0 ? [`${partWay} stopped between steps`] : []), `${skipped.length - partWay} not started`];
  return [`interrupted: ${parts.join(', ')}.`, `continue with: ${resumeCommand}`];
}
