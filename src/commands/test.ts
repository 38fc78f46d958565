import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import type { EnvironmentName } from '../inventory/types.js';
import { openWorkspace } from '../workspace/workspace.js';
import { exitCodeWithInvalidSites } from '../workspace/selection.js';
import { exitCodeForTest, testLive } from '../rollout/test-live.js';
import { formatTestResult } from '../output/format-test.js';

interface TestFlags extends SelectionFlags {
  env?: EnvironmentName;
}

export async function run(context: CommandContext, sites: string[], flags: TestFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'test', selection: { ...flags, sites } });
  try {
    const result = await testLive(workspace, workspace.selectItems({ ...flags, sites }), flags.env);
    context.reporter.result(result, () => formatTestResult(result));
    return { exitCode: exitCodeWithInvalidSites(exitCodeForTest(result), workspace.invalidSelected) };
  } finally {
    await workspace.close();
  }
}
