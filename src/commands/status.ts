import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeWithInvalidSites } from '../workspace/selection.js';
import { exitCodeForStatus, readStatus } from '../rollout/inspect.js';
import { formatStatusResult } from '../output/format-status.js';

export async function run(context: CommandContext, sites: string[], flags: SelectionFlags & { exitCode?: boolean }): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'status', secrets: false, selection: { ...flags, sites } });
  try {
    const result = await readStatus(workspace, workspace.selectItems({ ...flags, sites }));
    context.reporter.result(result, () => formatStatusResult(result));
    return { exitCode: exitCodeWithInvalidSites(exitCodeForStatus(result, { detailed: flags.exitCode }), workspace.invalidSelected) };
  } finally {
    await workspace.close();
  }
}
