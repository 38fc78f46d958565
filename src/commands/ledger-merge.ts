import path from 'node:path';
import { existsSync } from 'node:fs';
import type { CommandContext, CommandResult } from './context.js';
import { ExitCode, UsageError } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { describeLedgerDamage } from '../ledger/ledger.js';
import { mergeLedgers } from '../ledger/merge.js';

export async function run(context: CommandContext, files: string[]): Promise<CommandResult> {
  const inputs = files.map((f) => path.resolve(context.cwd, f));
  const missing = inputs.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new UsageError(`no such ledger file: ${missing.join(', ')}`);
  const workspace = await openWorkspace(context, { lock: true, command: 'ledger merge' });
  try {
    const known = { sites: new Set(workspace.inventory.sites.map((s) => s.name)), procedures: new Set(workspace.catalogue.names()) };
    const result = await mergeLedgers(workspace.ledger, inputs, known);
    const show = (file: string) => path.relative(context.cwd, file) || file;
    for (const f of result.files) for (const message of describeLedgerDamage(show(f.file), f.damage)) context.reporter.emit({ type: 'warning', message });
    for (const r of result.rejections) {
      context.reporter.emit({ type: 'warning', message: `${show(r.file)}:${r.line}: record refused, not merged: ${r.problems.join('; ')}` });
    }
    if (result.rejected > result.rejections.length) {
      context.reporter.emit({ type: 'warning', message: `${result.rejected - result.rejections.length} more record(s) refused` });
    }
    context.reporter.result(result, () =>
      [
        ...result.files.map(
          (f) => `${show(f.file)}: ${f.records} record(s)${f.ignored ? `, ${f.ignored} unreadable line(s) skipped` : ''}${f.rejected ? `, ${f.rejected} record(s) refused` : ''}`,
        ),
        `${result.added} record(s) added to ${path.relative(context.cwd, workspace.ledger.file)}, ${result.duplicates} already present`,
      ].join('\n'),
    );
    // the good records are merged either way; a refused one is invalid input the pipeline must see
    return { exitCode: result.rejected > 0 ? ExitCode.invalidInput : ExitCode.ok };
  } finally {
    await workspace.close();
  }
}
