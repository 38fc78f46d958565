import type { CommandContext, CommandResult } from './context.js';
import { openWorkspace } from '../rollout/workspace.js';
import { exitCodeForRollout, writeFailureError } from '../rollout/rollout.js';
import { deployRollout, type DeployFlags } from '../rollout/deploy-rollout.js';
import { formatRolloutSummary } from '../output/format-rollout.js';

export async function run(context: CommandContext, sites: string[], flags: DeployFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'deploy' });
  try {
    const result = await deployRollout(workspace, context, { ...flags, sites });
    context.reporter.result(result, () => formatRolloutSummary(result));
    // after the summary: what could not be written was printed as it failed, this says what to do
    if (result.writeFailures.length > 0) throw writeFailureError(result.writeFailures);
    return { exitCode: exitCodeForRollout(result) };
  } finally {
    await workspace.close();
  }
}
