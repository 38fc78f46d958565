import pLimit from 'p-limit';
import type { EnvironmentName, Inventory, ResolvedSetup, Site } from '../inventory/types.js';
import { ExitCode, InterruptedError, RecordWriteError, type Problem } from '../errors.js';
import { deployItem, type ItemOutcome, type PipelineDeps } from './pipeline.js';

export interface RolloutOptions {
  /** sites deployed at once (overall) */
  concurrency: number;
  /** the environments a site moves through, in order (test first) */
  environmentsOf(site: Site): EnvironmentName[];
  /** sites in order of deployment; each wave finishes before the next starts (default: one wave) */
  waves?: Site[][];
  /** failed sites tolerated; once exceeded, sites not yet started are skipped (default: no limit) */
  maxFailures?: number;
  /**
   * called after every site, e.g. to keep the state `--resume` continues from; a file it
   * cannot write (now or later) is handed to `rollout.writeFailed`, which stops the rollout
   */
  onSiteFinished?(outcome: SiteOutcome, rollout: RolloutControl): Promise<void> | void;
}

export interface RolloutControl {
  /** a file the rollout keeps could not be written: no site or step starts after this */
  writeFailed(error: RecordWriteError): void;
}

/** A file that could not be written during a rollout, with the ledger lines lost with it. */
export interface WriteFailure {
  file: string;
  error: string;
  lines: string[];
}

export type SiteResult = 'ok' | 'unchanged' | 'test-gate-failed' | 'failed' | 'skipped';

export interface SiteOutcome {
  site: string;
  result: SiteResult;
  items: ItemOutcome[];
  /** why a site was not attempted */
  reason?: string;
  /** the site's setup is invalid (its problems, file:line:col): it was failed before any target was contacted */
  problems?: Problem[];
}

export interface RolloutResult {
  sites: SiteOutcome[];
  ok: boolean;
  /** the failure budget was exceeded, or a record could not be written, and the rollout stopped early */
  stopped?: string;
  /** records and files that could not be written (exit 4); a write still under way when the rollout returns adds to it */
  writeFailures: WriteFailure[];
}

/**
 * Runs the per-site pipeline for many sites, wave after wave: bounded overall and per
 * data-center environment (a small municipal data center must not get every session at
 * once). Without a failure budget a failed site never stops the others; with one, the
 * rollout stops starting sites once more than `maxFailures` have failed.
 */
export async function runRollout(
  inventory: Inventory,
  items: ResolvedSetup[],
  options: RolloutOptions,
  deps: PipelineDeps,
): Promise<RolloutResult> {
  const bySite = groupBySite(items);
  const overall = pLimit(Math.max(1, options.concurrency));
  const perDataCenter = new Map<string, ReturnType<typeof pLimit>>();
  const limiterFor = (site: Site) => {
    const dc = inventory.dataCenters.get(site.dataCenter);
    const limit = Math.min(...options.environmentsOf(site).map((e) => dc?.environments[e]?.concurrency ?? Infinity));
    if (!Number.isFinite(limit)) return undefined;
    let limiter = perDataCenter.get(site.dataCenter);
    if (!limiter) perDataCenter.set(site.dataCenter, (limiter = pLimit(limit)));
    return limiter;
  };
  const waves = (options.waves ?? [[...bySite.values()].map((g) => g.site)]).map((wave) => wave.filter((site) => bySite.has(site.name)));
  const outcomes = new Map<string, SiteOutcome>();
  let failures = 0;
  let stopped: string | undefined;
  const writeFailures: WriteFailure[] = [];
  // A write that failed stops every site at its next step, as Ctrl-C does: nothing new is
  // applied that could not be recorded, and what is under way (a rollback too) finishes.
  const halt = new AbortController();
  const control: RolloutControl = {
    writeFailed(error) {
      writeFailures.push({ file: error.file, error: error.reason, lines: error.lines });
      deps.reporter.emit({ type: 'write-failed', file: error.file, error: error.reason, lines: error.lines });
      if (!stopped) {
        stopped = `stopped: could not write ${error.file} (${error.reason})`;
        deps.reporter.emit({ type: 'warning', message: `${stopped}; sites and steps not yet started are skipped` });
      }
      halt.abort(new InterruptedError(stopped));
    },
  };
  const siteDeps: PipelineDeps = {
    ...deps,
    signal: deps.signal ? AbortSignal.any([deps.signal, halt.signal]) : halt.signal,
    // the pipeline goes on after a record it could not write (a rollback still runs); the
    // record is printed instead and the rollout stops
    record: async (record) => {
      try {
        await deps.record(record);
      } catch (error) {
        if (!(error instanceof RecordWriteError)) throw error;
        control.writeFailed(error);
      }
    },
  };
  let unexpected: { error: unknown } | undefined;

  const runSite = async (site: Site): Promise<void> => {
    if (stopped || deps.signal?.aborted) {
      const outcome: SiteOutcome = { site: site.name, result: 'skipped', items: [], reason: stopped ?? 'interrupted' };
      outcomes.set(site.name, outcome);
      deps.reporter.emit({ type: 'site-finished', site: site.name, outcome: 'skipped', error: outcome.reason });
      return;
    }
    const outcome = await deploySite(site, bySite.get(site.name)!.items, options.environmentsOf(site), siteDeps);
    outcomes.set(site.name, outcome);
    if (outcome.result === 'failed' || outcome.result === 'test-gate-failed') {
      failures += 1;
      if (options.maxFailures !== undefined && failures > options.maxFailures && !stopped) {
        stopped = `failure budget exceeded: ${failures} site(s) failed, --max-failures ${options.maxFailures}`;
        deps.reporter.emit({ type: 'warning', message: `${stopped}; sites not yet started are skipped` });
      }
    }
    await options.onSiteFinished?.(outcome, control);
  };
  // Every site task settles before the rollout returns, whatever one of them threw: the
  // caller releases the lock only then, never while another site is still applying.
  const settleSite = (site: Site) =>
    runSite(site).catch((error: unknown) => {
      if (error instanceof RecordWriteError) return control.writeFailed(error);
      unexpected ??= { error };
      if (!stopped) stopped = 'stopped after an unexpected error';
      halt.abort(new InterruptedError(stopped));
    });

  for (const [index, wave] of waves.entries()) {
    if (wave.length === 0) continue;
    deps.reporter.emit({ type: 'wave-started', wave: index + 1, waves: waves.length, sites: wave.map((s) => s.name) });
    await Promise.allSettled(
      wave.map((site) => {
        // data-center slot first, so a site queued for a busy data center holds no overall slot
        const limiter = limiterFor(site);
        const run = () => overall(() => settleSite(site));
        return limiter ? limiter(run) : run();
      }),
    );
  }
  if (unexpected) throw unexpected.error;
  const sites = [...bySite.keys()].map((name) => outcomes.get(name)!).filter(Boolean);
  return {
    sites,
    ok: !stopped && sites.every((r) => r.result === 'ok' || r.result === 'unchanged'),
    ...(stopped ? { stopped } : {}),
    writeFailures,
  };
}

/**
 * One exit code for a whole rollout: the worst thing that happened decides. Sites that failed
 * on their targets: 4 (6 if every failure was an unreachable target; 3 if every one was a
 * bundle the target refused); else sites left out for invalid input: 3; then a failed test
 * gate (5); then sites skipped (130).
 */
export function exitCodeForRollout(result: RolloutResult): number {
  if (result.writeFailures.length > 0) return ExitCode.deployFailed;
  const environments = result.sites.flatMap((s) => s.items.flatMap((i) => i.environments));
  // sites left out for invalid input never reached a target: they decide only below 4 and 6
  const failedOnTargets = result.sites.filter((s) => s.result === 'failed' && !s.problems);
  if (failedOnTargets.length > 0) {
    const failures = environments.filter((e) => e.status === 'apply-failed' || e.status === 'smoke-failed');
    const onlyUnreachable = failures.length > 0 && failures.every((e) => e.unreachable);
    if (failures.length > 0 && failures.every((e) => e.invalidInput)) return ExitCode.invalidInput;
    return onlyUnreachable ? ExitCode.unreachable : ExitCode.deployFailed;
  }
  if (result.sites.some((s) => s.problems)) return ExitCode.invalidInput;
  if (result.sites.some((s) => s.result === 'test-gate-failed')) return ExitCode.testGateFailed;
  if (result.sites.some((s) => s.result === 'skipped')) return ExitCode.interrupted;
  return ExitCode.ok;
}

async function deploySite(site: Site, items: ResolvedSetup[], environments: EnvironmentName[], deps: PipelineDeps): Promise<SiteOutcome> {
  if (deps.signal?.aborted) return { site: site.name, result: 'skipped', items: [] };
  deps.reporter.emit({ type: 'site-started', site: site.name });
  const outcomes: ItemOutcome[] = [];
  try {
    for (const item of items) outcomes.push(await deployItem(item, environments, deps));
  } catch (error) {
    if (error instanceof InterruptedError) {
      deps.reporter.emit({ type: 'site-finished', site: site.name, outcome: 'skipped', error: error.message });
      return { site: site.name, result: 'skipped', items: outcomes };
    }
    throw error;
  }
  const result = summarise(outcomes);
  const firstFailure = outcomes.flatMap((o) => o.environments).find((e) => e.error);
  deps.reporter.emit({
    type: 'site-finished',
    site: site.name,
    outcome: result === 'ok' ? 'ok' : result === 'unchanged' ? 'unchanged' : 'failed',
    ...(firstFailure?.error ? { error: firstFailure.error } : {}),
    ...(firstFailure?.hint ? { hint: firstFailure.hint } : {}),
  });
  return { site: site.name, result, items: outcomes };
}

function summarise(outcomes: ItemOutcome[]): SiteResult {
  if (outcomes.some((o) => o.result === 'failed')) return 'failed';
  if (outcomes.some((o) => o.result === 'test-gate-failed')) return 'test-gate-failed';
  if (outcomes.some((o) => o.result === 'ok')) return 'ok';
  return 'unchanged';
}

function groupBySite(items: ResolvedSetup[]): Map<string, { site: Site; items: ResolvedSetup[] }> {
  const groups = new Map<string, { site: Site; items: ResolvedSetup[] }>();
  for (const item of items) {
    const group = groups.get(item.site.name) ?? { site: item.site, items: [] };
    group.items.push(item);
    groups.set(item.site.name, group);
  }
  return groups;
}

/** One error (exit 4) for every write a rollout could not make; the lines were printed as each failed. */
export function writeFailureError(failures: WriteFailure[]): RecordWriteError {
  const files = [...new Set(failures.map((f) => f.file))];
  const lost = failures.reduce((n, f) => n + f.lines.length, 0);
  const first = failures[0]!;
  const records =
    lost > 0
      ? `${lost} ledger record(s) were not written and are printed above as "not recorded": save those lines to a file and add them with \`ozg ledger merge <file>\``
      : 'every ledger record was written';
  return new RecordWriteError(first.file, first.error, {
    what: files.join(', '),
    hint: `free space on (or repair) the disk; ${records}; then \`ozg deploy --resume\` continues with the sites not done`,
  });
}
