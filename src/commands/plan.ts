import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { inspectTargets, type TargetRow } from '../rollout/inspect.js';
import { formatTable } from '../output/format-table.js';
import type { BundleDiff } from '../targets/driver.js';

export async function run(context: CommandContext, sites: string[], flags: SelectionFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'plan' });
  try {
    const rows = await inspectTargets(workspace, workspace.selectItems({ ...flags, sites }), undefined, { preview: true });
    const pending = rows.filter((r) => r.plan && r.plan.action !== 'unchanged');
    context.reporter.result({ pending: pending.length, targets: rows }, () => formatPlan(rows, pending.length));
    if (rows.some((r) => r.error)) return { exitCode: ExitCode.unreachable };
    return { exitCode: pending.length > 0 ? ExitCode.changesPending : ExitCode.ok };
  } finally {
    await workspace.close();
  }
}

function formatPlan(rows: TargetRow[], pending: number): string {
  const table = formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'ACTION', 'LIVE', 'DESIRED', 'NOTE'],
    rows.map((r) => [
      r.site,
      r.environment,
      r.procedure,
      r.error ? 'unknown' : r.plan!.action,
      r.plan?.live?.version ?? '-',
      r.desired,
      r.error ?? [r.plan?.drift ? 'drift: live differs from the ledger' : '', r.objects ? formatObjects(r.objects) : ''].filter(Boolean).join('; '),
    ]),
  );
  const summary = pending === 0 ? 'No changes: every target is at its desired release.' : `${pending} target(s) would change. Run \`ozg deploy\` to apply.`;
  return `${table}\n${summary}`;
}

function formatObjects(diff: BundleDiff): string {
  const parts = [
    diff.create.length ? `create ${diff.create.join(', ')}` : '',
    diff.change.length ? `change ${diff.change.join(', ')}` : '',
    diff.prune.length ? `prune ${diff.prune.join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no object changes (dry run)';
}
