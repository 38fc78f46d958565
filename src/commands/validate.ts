import type { CommandContext, CommandResult } from './context.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { renderAll } from '../rollout/render-all.js';

/** Inventory, templates and every bundle: the lint a pipeline runs before anything else. */
export async function run(context: CommandContext): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'validate' });
  try {
    const bundles = await renderAll(workspace, workspace.selectItems({}), { redactSecrets: false });
    const summary = {
      valid: true,
      sites: workspace.inventory.sites.length,
      procedures: workspace.catalogue.names().length,
      bundles: bundles.length,
    };
    context.reporter.result(summary, () => `${context.inventoryPath}: valid (${summary.sites} sites, ${summary.procedures} procedures, ${summary.bundles} bundles rendered)`);
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}
