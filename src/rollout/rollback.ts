import type { EnvironmentName } from '../inventory/types.js';
import type { RollbackResult } from '../targets/driver.js';
import { elapsedMs } from '../clock.js';
import type { WorkItem } from './work-item.js';
import type { Workspace } from '../workspace/workspace.js';

/** An operator's rollback: switch the target back and record what is live afterwards. */
export async function rollbackTarget(workspace: Workspace, item: WorkItem, environment: EnvironmentName, toRelease?: string): Promise<RollbackResult> {
  const deps = workspace.pipelineDeps();
  const driver = await workspace.driver(item.site, environment);
  const started = deps.clock.monotonicMs();
  deps.reporter.emit({ type: 'step', site: item.site.name, environment, procedure: item.procedure.name, step: 'rollback', message: toRelease ? `to ${toRelease}` : 'to the previous release' });
  // the activate hook of the release switched back to runs and can print what its files hold
  await workspace.learnSecrets(item);
  const result = await driver.rollback(item.procedure.name, toRelease);
  if (result.status === 'rolled-back') {
    await deps.record({
      site: item.site.name,
      environment,
      procedure: item.procedure.name,
      version: result.live.version,
      hash: result.live.hash,
      release: result.live.release,
      outcome: 'rolled-back',
      smoke: [],
      durationMs: elapsedMs(deps.clock, started),
    });
  }
  return result;
}
