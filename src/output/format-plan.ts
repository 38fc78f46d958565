import type { PlanResult } from '../rollout/inspect.js';
import type { BundleDiff } from '../targets/driver.js';
import { formatTable } from './format-table.js';

/** `ozg plan` for people: one row per target, then what to run. */
export function formatPlanResult(result: PlanResult): string {
  const table = formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'ACTION', 'LIVE', 'DESIRED', 'NOTE'],
    result.targets.map((t) => [
      t.site,
      t.environment,
      t.procedure,
      t.error ? 'unknown' : t.plan!.action,
      t.plan?.live?.version ?? t.live?.version ?? '-',
      t.desired,
      t.error ?? [t.plan?.drift ? 'drift: live differs from the ledger' : '', t.objects ? formatObjects(t.objects) : ''].filter(Boolean).join('; '),
    ]),
  );
  return `${table}\n${summarizePlan(result)}`;
}

/** Never "no changes" while a target could not be read: what a deploy would do there is unknown. */
function summarizePlan(result: PlanResult): string {
  const read = result.targets.length - result.unknown;
  const changes =
    result.pending > 0
      ? `${result.pending} target(s) would change. Run \`ozg deploy\` to apply.`
      : read === 0
        ? ''
        : result.unknown === 0
          ? 'No changes: every target is at its desired release.'
          : `The ${read} target(s) that could be read are at their desired release.`;
  const unknown = result.unknown > 0 ? `${result.unknown} target(s) could not be read: what a deploy would change there is unknown.` : '';
  return [unknown, changes].filter(Boolean).join('\n');
}

function formatObjects(diff: BundleDiff): string {
  const parts = [
    diff.create.length ? `create ${diff.create.join(', ')}` : '',
    diff.change.length ? `change ${diff.change.join(', ')}` : '',
    diff.prune.length ? `prune ${diff.prune.join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no object changes (dry run)';
}
