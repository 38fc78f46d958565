import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeWithInvalidSites } from '../workspace/selection.js';
import { renderToFolder } from '../rollout/render-all.js';
import { formatRenderResult } from '../output/format-render.js';

interface RenderFlags extends SelectionFlags {
  out: string;
  env?: EnvironmentName;
}

/** Bundles on disk for review: secrets redacted, so the folder is safe to share or diff. */
export async function run(context: CommandContext, sites: string[], flags: RenderFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'render', secrets: false, selection: { ...flags, sites } });
  try {
    const result = await renderToFolder(workspace, workspace.selectItems({ ...flags, sites }), { out: flags.out, cwd: context.cwd, only: flags.env });
    context.reporter.result(result, () => formatRenderResult(result));
    return { exitCode: exitCodeWithInvalidSites(ExitCode.ok, workspace.invalidSelected) };
  } finally {
    await workspace.close();
  }
}
