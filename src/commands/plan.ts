import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeWithInvalidSites } from '../workspace/selection.js';
import { exitCodeForPlan, planTargets } from '../rollout/inspect.js';
import { formatPlanResult } from '../output/format-plan.js';

export async function run(context: CommandContext, sites: string[], flags: SelectionFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'plan', secrets: false, selection: { ...flags, sites } });
  try {
    const result = await planTargets(workspace, workspace.selectItems({ ...flags, sites }));
    context.reporter.result(result, () => formatPlanResult(result));
    return { exitCode: exitCodeWithInvalidSites(exitCodeForPlan(result), workspace.invalidSelected) };
  } finally {
    await workspace.close();
  }
}
