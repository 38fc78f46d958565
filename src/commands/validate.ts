import type { CommandContext, CommandResult } from './context.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { validateWorkspace } from '../rollout/render-all.js';
import { formatValidateResult } from '../output/format-validate.js';

/** Inventory, templates and every bundle: the lint a pipeline runs before anything else. */
export async function run(context: CommandContext): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'validate', scope: 'every-problem', checkFiles: true });
  try {
    const result = await validateWorkspace(workspace, context.inventoryPath);
    context.reporter.result(result, () => formatValidateResult(result));
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}
