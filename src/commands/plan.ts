import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeForPlan, planTargets } from '../rollout/inspect.js';
import { formatPlanResult } from '../output/format-plan.js';

export async function run(context: CommandContext, sites: string[], flags: SelectionFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'plan' });
  try {
    const result = await planTargets(workspace, workspace.selectItems({ ...flags, sites }));
    context.reporter.result(result, () => formatPlanResult(result));
    return { exitCode: exitCodeForPlan(result) };
  } finally {
    await workspace.close();
  }
}
