import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { readHistory } from '../ledger/history.js';
import { formatHistoryResult } from '../output/format-history.js';

interface HistoryFlags {
  site?: string;
  procedure?: string;
  env?: EnvironmentName;
  limit?: number;
}

export async function run(context: CommandContext, flags: HistoryFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'history', secrets: false });
  try {
    const known = { sites: workspace.inventory.sites.map((site) => site.name), procedures: workspace.catalogue.names() };
    const result = await readHistory(workspace.ledger, { site: flags.site, procedure: flags.procedure, environment: flags.env, limit: flags.limit }, known);
    context.reporter.result(result, () => formatHistoryResult(result));
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}
