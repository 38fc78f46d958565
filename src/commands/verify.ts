import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeForVerify, verifyTargets } from '../rollout/verify.js';
import { formatVerifyResult } from '../output/format-verify.js';

interface VerifyFlags extends SelectionFlags {
  env?: EnvironmentName;
}

export async function run(context: CommandContext, sites: string[], flags: VerifyFlags): Promise<CommandResult> {
  const { env, ...selection } = flags;
  const workspace = await openWorkspace(context, { lock: false, command: 'verify' });
  try {
    const result = await verifyTargets(workspace, workspace.selectItems({ ...selection, sites }), env);
    context.reporter.result(result, () => formatVerifyResult(result));
    return { exitCode: exitCodeForVerify(result) };
  } finally {
    await workspace.close();
  }
}
