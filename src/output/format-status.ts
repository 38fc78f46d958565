import type { StatusResult, TargetStatus } from '../rollout/inspect.js';
import { formatTable } from './format-table.js';
import { formatHold } from './format-plan.js';

/** `ozg status` for people: recorded, live and desired version per target, and its state. */
export function formatStatusResult(result: StatusResult): string {
  return formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'RECORDED', 'LIVE', 'DESIRED', 'STATE'],
    result.targets.map((t) => [t.site, t.environment, t.procedure, t.recorded ?? '-', t.live ?? '-', t.desired, describeState(t)]),
  );
}

function describeState(target: TargetStatus): string {
  if (target.error !== null) return target.inputError ? target.error : `unreachable: ${target.error}`;
  if (target.drift) return 'DRIFT';
  if (target.hold) return formatHold(target.hold);
  return target.upToDate ? 'up to date' : `pending ${target.action}`;
}
