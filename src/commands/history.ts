import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode } from '../errors.js';
import { openLedgerForReading } from '../workspace/read-ledger.js';
import { readHistory } from '../ledger/history.js';
import { formatHistoryResult } from '../output/format-history.js';

interface HistoryFlags {
  site?: string;
  procedure?: string;
  env?: EnvironmentName;
  limit?: number;
}

export async function run(context: CommandContext, flags: HistoryFlags): Promise<CommandResult> {
  // the ledger only: history loads neither the catalogue nor templates (issue 14); the
  // inventory's site and procedure names let a mistyped -s/-p get a suggestion
  const { ledger, known } = await openLedgerForReading(context);
  const result = await readHistory(ledger, { site: flags.site, procedure: flags.procedure, environment: flags.env, limit: flags.limit }, known);
  context.reporter.result(result, () => formatHistoryResult(result));
  return { exitCode: ExitCode.ok };
}
