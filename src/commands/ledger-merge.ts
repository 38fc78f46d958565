import path from 'node:path';
import { existsSync } from 'node:fs';
import type { CommandContext, CommandResult } from './context.js';
import { ExitCode, UsageError } from '../errors.js';
import { openWorkspace } from '../rollout/workspace.js';
import { mergeLedgers } from '../ledger/merge.js';

export async function run(context: CommandContext, files: string[]): Promise<CommandResult> {
  const inputs = files.map((f) => path.resolve(context.cwd, f));
  const missing = inputs.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new UsageError(`no such ledger file: ${missing.join(', ')}`);
  const workspace = await openWorkspace(context, { lock: true, command: 'ledger merge' });
  try {
    const result = await mergeLedgers(workspace.ledger, inputs);
    context.reporter.result(result, () =>
      [
        ...result.files.map((f) => `${path.relative(context.cwd, f.file) || f.file}: ${f.records} record(s)${f.ignored ? `, ${f.ignored} torn line(s) skipped` : ''}`),
        `${result.added} record(s) added to ${path.relative(context.cwd, workspace.ledger.file)}, ${result.duplicates} already present`,
      ].join('\n'),
    );
    return { exitCode: ExitCode.ok };
  } finally {
    await workspace.close();
  }
}
