import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { renderAll } from '../rollout/render-all.js';
import { writeBundles } from '../procedure/write-bundles.js';

interface RenderFlags extends SelectionFlags {
  out: string;
  env?: EnvironmentName;
}

/** Bundles on disk for review: secrets redacted, so the folder is safe to share or diff. */
export async function run(context: CommandContext, sites: string[], flags: RenderFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: false, command: 'render' });
  try {
    const bundles = await renderAll(workspace, workspace.selectItems({ ...flags, sites }), { redactSecrets: true, only: flags.env });
    const written = await writeBundles(bundles, context.cwd, flags.out);
    context.reporter.result({ out: written.dir, bundles: written.bundles }, () =>
      written.bundles.map((b) => `${b.dir}  ${b.files} file(s)  hash ${b.hash.slice(0, 12)}`).join('\n') + `\n${written.bundles.length} bundle(s) written to ${written.dir}`,
    );
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}
