import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import type { LedgerRecord } from '../ledger/types.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { formatTable } from '../output/format-table.js';

interface HistoryFlags {
  site?: string;
  procedure?: string;
  env?: EnvironmentName;
  limit?: number;
}

export async function run(context: CommandContext, flags: HistoryFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'history' });
  try {
    // the ledger answers newest first; people and pipelines read a history oldest first
    const newest = await workspace.ledger.history({ site: flags.site, procedure: flags.procedure, environment: flags.env, limit: flags.limit });
    const records = [...newest].reverse();
    context.reporter.result({ records }, () => formatHistory(records));
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}

function formatHistory(records: LedgerRecord[]): string {
  if (records.length === 0) return 'No records yet.';
  return formatTable(
    ['TIME', 'SITE', 'ENV', 'PROCEDURE', 'VERSION', 'OUTCOME', 'RELEASE', 'SMOKE', 'BY'],
    records.map((r) => [
      r.time.replace(/\.\d+Z$/, 'Z'),
      r.site,
      r.environment,
      r.procedure,
      r.version,
      r.outcome,
      r.release ?? '-',
      r.smoke.length ? `${r.smoke.filter((s) => s.passed).length}/${r.smoke.length} passed` : '-',
      r.actor,
    ]),
  );
}
