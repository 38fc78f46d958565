import type { CommandContext, CommandResult } from './context.js';
import { ExitCode } from '../errors.js';
import { completionScript } from './complete.js';

/** `ozg completion bash|zsh`: the script to source; it calls back `ozg __complete`. */
export async function run(context: CommandContext, shell: 'bash' | 'zsh'): Promise<CommandResult> {
  const script = completionScript(shell);
  context.reporter.result({ shell, script }, () => script.replace(/\n$/, ''));
  return { exitCode: ExitCode.ok };
}
