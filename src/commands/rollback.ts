import type { CommandContext, CommandResult } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode, UsageError } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { rollbackTarget } from '../rollout/rollback.js';

interface RollbackFlags {
  procedure: string;
  env: EnvironmentName;
  to?: string;
}

export async function run(context: CommandContext, site: string, flags: RollbackFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'rollback' });
  try {
    const [item] = workspace.selectItems({ sites: [site], procedure: [flags.procedure] });
    if (!item) throw new UsageError(`site ${site} has no setup for procedure ${flags.procedure}`);
    const result = await rollbackTarget(workspace, item, flags.env, flags.to);
    context.reporter.result(result, () =>
      result.status === 'rolled-back'
        ? `${site}/${flags.env}/${flags.procedure}: rolled back to ${result.live.version} (release ${result.live.release})`
        : `${site}/${flags.env}/${flags.procedure}: nothing to roll back: ${result.reason}`,
    );
    return { exitCode: result.status === 'rolled-back' ? ExitCode.ok : ExitCode.deployFailed };
  } finally {
    await workspace.close();
  }
}
