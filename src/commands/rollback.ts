import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeForRollback, rollbackSetup } from '../rollout/rollback.js';
import { formatRollbackResult } from '../output/format-rollback.js';

interface RollbackFlags {
  procedure: string;
  env: EnvironmentName;
  to?: string;
  reason?: string;
}

export async function run(context: CommandContext, site: string, flags: RollbackFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'rollback' });
  try {
    const result = await rollbackSetup(workspace, { site, procedure: flags.procedure, environment: flags.env, to: flags.to, reason: flags.reason });
    context.reporter.result(result, () => formatRollbackResult(result));
    return { exitCode: exitCodeForRollback(result) };
  } finally {
    await workspace.close();
  }
}
