import type { CommandContext, CommandResult, SelectionFlags } from './context.js';
import { openWorkspace } from '../rollout/workspace.js';
import { exitCodeForRollout, runRollout } from '../rollout/rollout.js';
import { formatRolloutSummary } from '../output/format-rollout.js';

interface DeployFlags extends SelectionFlags {
  concurrency?: number;
  onlyTest?: boolean;
}

export async function run(context: CommandContext, sites: string[], flags: DeployFlags): Promise<CommandResult> {
  const workspace = await openWorkspace(context, { lock: true, command: 'deploy' });
  try {
    const items = workspace.selectItems({ ...flags, sites });
    context.reporter.emit({ type: 'run-started', run: workspace.run, command: 'deploy', sites: new Set(items.map((i) => i.site.name)).size });
    const started = Date.now();
    const result = await runRollout(
      workspace.inventory,
      items,
      {
        concurrency: flags.concurrency ?? workspace.inventory.concurrency,
        environmentsOf: (site) => workspace.environmentsOf(site, flags.onlyTest ? 'test' : undefined),
      },
      workspace.pipelineDeps(),
    );
    context.reporter.emit({ type: 'run-finished', run: workspace.run, ok: result.ok, durationMs: Date.now() - started });
    context.reporter.result(result, () => formatRolloutSummary(result));
    return { exitCode: exitCodeForRollout(result) };
  } finally {
    await workspace.close();
  }
}
