import type { CommandContext, CommandResult } from './context.js';
import { cloneProcedure, exitCodeForClone } from '../clone/clone-procedure.js';
import { formatCloneResult } from '../output/format-clone.js';

interface CloneFlags {
  from: string;
  to: string;
  all?: boolean;
  write?: boolean;
  force?: boolean;
  deploy?: boolean;
  yes?: boolean;
}

/** Adopt another site's setup of a procedure: diff first; --write applies it, --deploy also deploys it. */
export async function run(context: CommandContext, procedure: string | undefined, flags: CloneFlags): Promise<CommandResult> {
  // the confirmation gate asks only where there is a terminal to ask on
  const result = await cloneProcedure({ ...context, confirm: context.interactive ? context.confirm : undefined }, { ...flags, procedure });
  context.reporter.result(result, () => formatCloneResult(result));
  return { exitCode: exitCodeForClone(result) };
}
