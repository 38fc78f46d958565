import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { openWorkspace } from '../workspace/workspace.js';
import { releaseHold } from '../rollout/unhold.js';
import { formatUnholdResult } from '../output/format-unhold.js';

interface UnholdFlags {
  procedure: string;
  env: EnvironmentName;
  reason?: string;
}

export async function run(context: CommandContext, site: string, flags: UnholdFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'unhold' });
  try {
    const result = await releaseHold(workspace, { site, procedure: flags.procedure, environment: flags.env, reason: flags.reason });
    context.reporter.result(result, () => formatUnholdResult(result));
    return { exitCode: 0 };
  } finally {
    await workspace.close();
  }
}
