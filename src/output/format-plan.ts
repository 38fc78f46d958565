import type { PlanResult } from '../rollout/inspect.js';
import type { BundleDiff } from '../targets/driver.js';
import { formatTable } from './format-table.js';
import type { HoldInfo } from '../ledger/hold.js';

/** `ozg plan` for people: one row per target, then what to run. */
export function formatPlanResult(result: PlanResult): string {
  const table = formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'ACTION', 'LIVE', 'DESIRED', 'NOTE'],
    result.targets.map((t) => [
      t.site,
      t.environment,
      t.procedure,
      t.error ? 'unknown' : t.hold ? 'held' : t.plan!.action,
      t.plan?.live?.version ?? t.live?.version ?? '-',
      t.desired,
      t.error ?? [t.plan?.drift ? 'drift: live differs from the ledger' : '', t.hold ? formatHold(t.hold) : '', t.objects ? formatObjects(t.objects) : ''].filter(Boolean).join('; '),
    ]),
  );
  return `${table}\n${summarizePlan(result)}`;
}

/** Never "no changes" while a target could not be read: what a deploy would do there is unknown. */
function summarizePlan(result: PlanResult): string {
  const read = result.targets.length - result.unknown;
  const held = result.held ?? 0;
  const changes =
    result.pending > 0
      ? `${result.pending} target(s) would change. Run \`ozg deploy\` to apply.`
      : read === 0
        ? ''
        : result.unknown === 0 && held === 0
          ? 'No changes: every target is at its desired release.'
          : `The ${read - held} target(s) that could be read and are not held are at their desired release.`;
  const unknown = result.unknown > 0 ? `${result.unknown} target(s) could not be read: what a deploy would change there is unknown.` : '';
  const holds = held > 0 ? `${held} target(s) held by a rollback: deploy skips them until \`ozg unhold <site> -p <procedure> -e <env>\` or a new desired version.` : '';
  return [unknown, changes, holds].filter(Boolean).join('\n');
}

/** Who held the target, when and why: the rollback's ledger record. */
export function formatHold(hold: HoldInfo): string {
  return `held: ${hold.version} rolled back by ${hold.by} at ${hold.since.replace(/\.\d+Z$/, 'Z')}: ${hold.reason}`;
}

function formatObjects(diff: BundleDiff): string {
  const parts = [
    diff.create.length ? `create ${diff.create.join(', ')}` : '',
    diff.change.length ? `change ${diff.change.join(', ')}` : '',
    diff.prune.length ? `prune ${diff.prune.join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no object changes (dry run)';
}
