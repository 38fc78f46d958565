import type { EnvironmentName, ResolvedSetup } from '../inventory/types.js';
import type { RollbackResult } from '../targets/driver.js';
import { ExitCode, UsageError } from '../errors.js';
import { elapsedMs } from '../clock.js';
import type { Workspace } from '../workspace/workspace.js';

export interface RollbackRequest {
  site: string;
  procedure: string;
  environment: EnvironmentName;
  /** a kept release to switch to; default the previous one */
  to?: string;
}

/** `ozg rollback`'s result: the target, then what its driver did (`rolled-back` with what is live now, or why not). */
export type TargetRollbackResult = { site: string; environment: EnvironmentName; procedure: string } & RollbackResult;

/** `ozg rollback`: the site's setup of the procedure, switched back in one environment. */
export async function rollbackSetup(workspace: Workspace, request: RollbackRequest): Promise<TargetRollbackResult> {
  const [item] = workspace.selectValidItems({ sites: [request.site], procedure: [request.procedure] });
  if (!item) throw new UsageError(`site ${request.site} has no setup for procedure ${request.procedure}`);
  const result = await rollbackTarget(workspace, item, request.environment, request.to);
  return { site: request.site, environment: request.environment, procedure: request.procedure, ...result };
}

export function exitCodeForRollback(result: TargetRollbackResult): number {
  return result.status === 'rolled-back' ? ExitCode.ok : ExitCode.deployFailed;
}

/** An operator's rollback: switch the target back and record what is live afterwards. */
async function rollbackTarget(workspace: Workspace, item: ResolvedSetup, environment: EnvironmentName, toRelease?: string): Promise<RollbackResult> {
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
