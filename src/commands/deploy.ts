import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { CommandContext, CommandResult } from './context.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeForRollout, writeFailureError } from '../rollout/rollout.js';
import { deployRollout, type DeployOutcome, type DeployRequest } from '../rollout/deploy-rollout.js';
import { describeWriteFailure, RecordWriteError } from '../errors.js';
import { formatRolloutSummary } from '../output/format-rollout.js';
import { formatJunit } from '../output/junit.js';
import type { SecretRedactor } from '../inventory/secret-redactor.js';
import { quoteShell } from '../shell-quote.js';

export interface DeployFlags extends Omit<DeployRequest, 'sites' | 'confirm'> {
  /** write smoke results as JUnit XML to this file */
  junit?: string;
}

export async function run(context: CommandContext, sites: string[], flags: DeployFlags): Promise<CommandResult> {
  const { junit, ...request } = flags;
  // a mistyped selector or wave is refused before the lock is taken or anything is written
  const selection = request.resume ? undefined : { ...request, sites };
  const workspace = await openWorkspace(context, { lock: true, command: 'deploy', ...(selection ? { selection } : {}) });
  try {
    const outcome = await deployRollout(workspace, { ...request, sites, ...(context.interactive && context.confirm ? { confirm: context.confirm } : {}) });
    const { result } = outcome;
    if (junit) await writeJunitReport(path.resolve(context.cwd, junit), outcome, workspace.redactor, context);
    const interrupted = context.signal.aborted;
    context.reporter.result(result, () => formatRolloutSummary(result, { interrupted, resumeCommand: resumeCommand(context) }));
    // after the summary: what could not be written was printed as it failed, this says what to do
    if (result.writeFailures.length > 0) throw writeFailureError(result.writeFailures);
    return { exitCode: exitCodeForRollout(result) };
  } finally {
    await workspace.close();
  }
}

/** A report that cannot be written is a write failure of the run (exit 4), shown like a ledger write. */
async function writeJunitReport(file: string, outcome: DeployOutcome, redactor: SecretRedactor, context: CommandContext): Promise<void> {
  const xml = formatJunit(redactor.redactDeep(outcome.result), { name: `ozg deploy ${outcome.run}`, timestamp: outcome.startedAt });
  await writeFile(file, xml).catch((error: unknown) => {
    const failed = new RecordWriteError(file, describeWriteFailure(error), { cause: error, what: `the JUnit report ${file}` });
    outcome.result.writeFailures.push({ file: failed.file, error: failed.reason, lines: failed.lines });
    context.reporter.emit({ type: 'write-failed', file: failed.file, error: failed.reason, lines: failed.lines });
  });
}

/** `ozg deploy --resume`, with the inventory this run used when it was not the default. */
function resumeCommand(context: CommandContext): string {
  if (context.inventoryPath === 'sites.yaml') return 'ozg deploy --resume';
  const file = /^[\w./-]+$/.test(context.inventoryPath) ? context.inventoryPath : quoteShell(context.inventoryPath);
  return `ozg deploy --resume -i ${file}`;
}
