import type { EnvironmentName, ResolvedSetup } from '../inventory/types.js';
import type { KeptRelease, LiveRelease, RollbackResult, TargetDriver } from '../targets/driver.js';
import type { HeldBundle } from '../ledger/types.js';
import type { SmokeResult } from '../smoke/types.js';
import { describeError, ExitCode, InterruptedError, UsageError } from '../errors.js';
import { elapsedMs } from '../clock.js';
import { toHoldReason } from '../ledger/hold.js';
import type { Workspace } from '../workspace/workspace.js';

export interface RollbackRequest {
  site: string;
  procedure: string;
  environment: EnvironmentName;
  /** a kept release to switch to; default the previous one */
  to?: string;
  /** why: recorded with the hold the rollback puts on the release it switched away from */
  reason?: string;
}

/**
 * `ozg rollback`'s result: the target, then what its driver did (`rolled-back` with what is
 * live now, or why not); after a rollback the restored release's smoke results, and the
 * bundle now held off the target.
 */
export type TargetRollbackResult = { site: string; environment: EnvironmentName; procedure: string } & RollbackResult & {
    smoke?: SmokeResult[];
    /** why the restored release's smoke checks could not be run */
    smokeNotRun?: string;
    hold?: HeldBundle;
  };

/** `ozg rollback`: the site's setup of the procedure, switched back in one environment. */
export async function rollbackSetup(workspace: Workspace, request: RollbackRequest): Promise<TargetRollbackResult> {
  const [item] = workspace.selectValidItems({ sites: [request.site], procedure: [request.procedure] });
  if (!item) throw new UsageError(`site ${request.site} has no setup for procedure ${request.procedure}`);
  const result = await rollbackTarget(workspace, item, request);
  return { site: request.site, environment: request.environment, procedure: request.procedure, ...result };
}

/** 0: rolled back and the restored release passed its smoke checks; 4: nothing rolled back, or its checks failed. */
export function exitCodeForRollback(result: TargetRollbackResult): number {
  if (result.status !== 'rolled-back') return ExitCode.deployFailed;
  return result.smoke?.every((s) => s.passed) === false ? ExitCode.deployFailed : ExitCode.ok;
}

type RollbackOutcome = RollbackResult & { smoke?: SmokeResult[]; smokeNotRun?: string; hold?: HeldBundle };

/**
 * An operator's rollback: switch the target back, smoke-test the release live again, and
 * record it with a hold on the bundle it switched away from, so the next deploy does not
 * silently bring that bundle back (ledger/hold.ts).
 */
async function rollbackTarget(workspace: Workspace, item: ResolvedSetup, request: RollbackRequest): Promise<RollbackOutcome> {
  const { environment, to: toRelease } = request;
  const deps = workspace.pipelineDeps();
  const driver = await workspace.driver(item.site, environment);
  const started = deps.clock.monotonicMs();
  deps.reporter.emit({ type: 'step', site: item.site.name, environment, procedure: item.procedure.name, step: 'rollback', message: toRelease ? `to ${toRelease}` : 'to the previous release' });
  // the activate hook of the release switched back to runs and can print what its files hold
  await workspace.learnSecrets(item);
  const before = await driver.live(item.procedure.name);
  const result = await driver.rollback(item.procedure.name, toRelease);
  if (result.status !== 'rolled-back') {
    if (toRelease !== undefined) await refuseUnknownRelease(driver, item, environment, toRelease, before);
    return result;
  }
  const { smoke, smokeNotRun } = await smokeRestored(workspace, item, environment, driver, result.live);
  const hold = before && before.hash !== result.live.hash ? { version: before.version, hash: before.hash, reason: toHoldReason(request.reason ?? 'rolled back by an operator (no --reason given)') } : undefined;
  await deps.record({
    site: item.site.name,
    environment,
    procedure: item.procedure.name,
    version: result.live.version,
    hash: result.live.hash,
    release: result.live.release,
    outcome: 'rolled-back',
    smoke,
    durationMs: elapsedMs(deps.clock, started),
    ...(smoke.some((s) => !s.passed) ? { error: smoke.filter((s) => !s.passed).map((s) => `${s.name}: ${s.detail}`).join('; ') } : {}),
    ...(hold ? { hold } : {}),
  });
  return { ...result, smoke, ...(smokeNotRun ? { smokeNotRun } : {}), ...(hold ? { hold } : {}) };
}

/**
 * The smoke checks of the restored release's own procedure version, rendered for this site:
 * it must be shown healthy, like any release a deploy makes live. A version the catalogue no
 * longer has cannot be checked; that is said, not hidden.
 */
async function smokeRestored(workspace: Workspace, item: ResolvedSetup, environment: EnvironmentName, driver: TargetDriver, live: LiveRelease): Promise<{ smoke: SmokeResult[]; smokeNotRun?: string }> {
  const procedure = workspace.catalogue.get(item.procedure.name, live.version);
  const site = item.site.name;
  const say = (message: string) => workspace.reporter.emit({ type: 'step', site, environment, procedure: item.procedure.name, step: 'smoke', message });
  if (!procedure) {
    const smokeNotRun = `version ${live.version} of ${item.procedure.name} is not in the catalogue: its smoke checks were not run`;
    workspace.reporter.emit({ type: 'warning', message: `${site}/${environment}/${item.procedure.name}: ${smokeNotRun}` });
    return { smoke: [], smokeNotRun };
  }
  try {
    const bundle = await workspace.renderBundle({ ...item, procedure }, environment);
    say(`${bundle.smoke.length} check(s) of the restored release ${live.release} (${live.version})`);
    const smoke = await driver.smoke(item.procedure.name, bundle.smoke);
    for (const result of smoke) workspace.reporter.emit({ type: 'smoke-result', site, environment, procedure: item.procedure.name, result });
    return { smoke };
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    return { smoke: [{ name: 'smoke', passed: false, attempts: 1, durationMs: 0, detail: describeError(error) }] };
  }
}

/** `--to` a release the target does not keep: a usage error that lists the ones it does. */
async function refuseUnknownRelease(driver: TargetDriver, item: ResolvedSetup, environment: EnvironmentName, toRelease: string, live: LiveRelease | undefined): Promise<void> {
  if (!driver.keptReleases) return;
  const kept = await driver.keptReleases(item.procedure.name);
  if (kept.some((k) => k.release === toRelease)) return;
  const target = `${item.site.name}/${environment}/${item.procedure.name}`;
  throw new UsageError(`release ${toRelease} is not kept on ${target} (${driver.description})`, {
    hint: kept.length === 0 ? 'the target keeps no release to roll back to' : `kept releases, newest first:\n${formatKeptReleases(kept, live)}`,
  });
}

/** One line per kept release: id, version, the time its id was stamped with, and which is live. */
export function formatKeptReleases(kept: readonly KeptRelease[], live: LiveRelease | undefined): string {
  return kept.map((k) => `  ${k.release}  ${k.version}  ${releaseTime(k.release)}${k.release === live?.release ? '  (live)' : ''}`).join('\n');
}

/** `20261129T053200Z-1a2b3c4d` → `2026-11-29T05:32:00Z`; other ids have no time of their own. */
function releaseTime(release: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(release);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : '-';
}
