import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { inspectTargets, type TargetRow } from '../rollout/inspect.js';
import { formatTable } from '../output/format-table.js';

export async function run(context: CommandContext, sites: string[], flags: SelectionFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'status' });
  try {
    const rows = await inspectTargets(workspace, workspace.selectItems({ ...flags, sites }));
    const result = rows.map(toStatus);
    context.reporter.result({ targets: result }, () => formatStatus(rows));
    return { exitCode: rows.some((r) => r.error) ? ExitCode.unreachable : ExitCode.ok };
  } finally {
    await workspace.close();
  }
}

function toStatus(row: TargetRow) {
  return {
    site: row.site,
    environment: row.environment,
    procedure: row.procedure,
    desired: row.desired,
    live: row.plan?.live?.version ?? null,
    liveRelease: row.plan?.live?.release ?? null,
    recorded: row.plan?.recorded?.version ?? null,
    upToDate: row.plan ? row.plan.action === 'unchanged' : null,
    drift: row.plan?.drift ?? null,
    error: row.error ?? null,
  };
}

function formatStatus(rows: TargetRow[]): string {
  return formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'RECORDED', 'LIVE', 'DESIRED', 'STATE'],
    rows.map((r) => [
      r.site,
      r.environment,
      r.procedure,
      r.plan?.recorded?.version ?? '-',
      r.plan?.live?.version ?? '-',
      r.desired,
      r.error ? `unreachable: ${r.error}` : r.plan!.drift ? 'DRIFT' : r.plan!.action === 'unchanged' ? 'up to date' : `pending ${r.plan!.action}`,
    ]),
  );
}
