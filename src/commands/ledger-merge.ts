import path from 'node:path';
import { existsSync } from 'node:fs';
import type { CommandContext, CommandResult } from './context.js';
import { UsageError } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeForLedgerMerge, mergeLedgers } from '../ledger/merge.js';
import { describeLedgerMergeWarnings, formatLedgerMergeResult } from '../output/format-ledger-merge.js';

export async function run(context: CommandContext, files: string[]): Promise<CommandResult> {
  const inputs = files.map((f) => path.resolve(context.cwd, f));
  const missing = inputs.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new UsageError(`no such ledger file: ${missing.join(', ')}`);
  const workspace = await openWorkspace(context, { lock: true, command: 'ledger merge', secrets: false });
  try {
    const known = { sites: new Set(workspace.everySite.map((s) => s.name)), procedures: new Set(workspace.catalogue.names()) };
    const result = await mergeLedgers(workspace.ledger, inputs, known);
    for (const message of describeLedgerMergeWarnings(result, context.cwd)) context.reporter.emit({ type: 'warning', message });
    context.reporter.result(result, () => formatLedgerMergeResult(result, context.cwd));
    return { exitCode: exitCodeForLedgerMerge(result) };
  } finally {
    await workspace.close();
  }
}
