import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { ExitCode } from '../errors.js';
import { openWorkspace } from '../workspace/workspace.js';
import { testLive, type LiveTestRow } from '../rollout/test-live.js';
import { formatTable } from '../output/format-table.js';

interface TestFlags extends SelectionFlags {
  env?: EnvironmentName;
}

export async function run(context: CommandContext, sites: string[], flags: TestFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'test' });
  try {
    const rows = await testLive(workspace, workspace.selectItems({ ...flags, sites }), flags.env);
    context.reporter.result({ targets: rows }, () => formatRows(rows));
    if (rows.some((r) => r.status === 'error')) return { exitCode: ExitCode.unreachable };
    return { exitCode: rows.some((r) => r.status === 'failed') ? ExitCode.testGateFailed : ExitCode.ok };
  } finally {
    await workspace.close();
  }
}

function formatRows(rows: LiveTestRow[]): string {
  return formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'VERSION', 'RESULT', 'DETAIL'],
    rows.map((r) => [
      r.site,
      r.environment,
      r.procedure,
      r.version ?? '-',
      r.status,
      r.error ?? r.smoke.filter((s) => !s.passed).map((s) => `${s.name}: ${s.detail}`).join('; '),
    ]),
  );
}
