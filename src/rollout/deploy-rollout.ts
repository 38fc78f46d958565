import type { EnvironmentName, ResolvedSetup, Site } from '../inventory/types.js';
import { describeWriteFailure, RecordWriteError, UsageError } from '../errors.js';
import { elapsedMs } from '../clock.js';
import { renderAll } from './render-all.js';
import { runRollout, type RolloutResult } from './rollout.js';
import { loadResumableState, stateFile, writeRolloutState, type RolloutPlan, type RolloutState } from './rollout-state.js';
import { parseFailureBudget, parseWaves, planWaves } from './waves.js';
import { checkCanaryPassed, planFleetShare } from './canary.js';
import type { SelectionFlags, Workspace } from '../workspace/workspace.js';

/** What to deploy and how: `ozg deploy`'s flags, or what `clone-procedure --deploy` asks for. */
export interface DeployRequest extends SelectionFlags {
  concurrency?: number;
  onlyTest?: boolean;
  /** apply targets already at the desired release again (repairs hand edits), through the gate */
  reinstall?: boolean;
  waves?: string;
  maxFailures?: string;
  resume?: boolean;
  /** deploy only the first wave of the whole fleet: the canary stage of a sharded pipeline */
  canaryOnly?: boolean;
  /** deploy the waves after the canary (this shard's part), once the ledger shows the canary passed */
  afterCanary?: boolean;
  /** confirms deploys to data centers that ask for it (`confirm: true`) */
  yes?: boolean;
  /**
   * asks a yes/no question on a terminal; absent without one (then a data center that asks
   * for confirmation needs `yes`)
   */
  confirm?(question: string): Promise<boolean>;
}

export interface DeployOutcome {
  result: RolloutResult;
  /** the rollout's run id (the interrupted run's, when resumed) */
  run: string;
  /** when this invocation started deploying: the JUnit report's timestamp */
  startedAt: Date;
}

/**
 * The one deploy path (`ozg deploy`, `clone-procedure --deploy`): selection (or the
 * interrupted rollout's, with resume), every bundle rendered and checked, confirmation where
 * a data center asks for it, waves and failure budget, the resume state after every site.
 */
export async function deployRollout(workspace: Workspace, request: DeployRequest): Promise<DeployOutcome> {
  const { reporter, clock } = workspace;
  const { state, resumed } = await startState(workspace, request);
  const plan = state.plan;
  const done = new Set(state.done);
  const environmentsOf = (site: Site) => workspace.environmentsOf(site, plan.onlyTest ? 'test' : undefined);
  const fleet = plan.stage || plan.shard ? await planFleetRun(workspace, plan, environmentsOf) : undefined;
  const items = (fleet?.items ?? workspace.selectItems({ sites: plan.sites, selector: plan.selector, procedure: plan.procedure })).filter((item) => !done.has(item.site.name));
  const sites = uniqueSites(items.map((item) => item.site));
  if (resumed) reporter.emit({ type: 'info', message: `resuming run ${state.run}: ${done.size} site(s) already done, ${sites.length} to go` });
  if (fleet?.note) reporter.emit({ type: 'info', message: fleet.note });

  // Every bundle renders and fits its target before the first target is contacted: invalid
  // input is refused whole (exit 3), never half-way through a rollout. The pipeline reuses them.
  await renderAll(workspace, items, { redactSecrets: false, ...(plan.onlyTest ? { only: 'test' as const } : {}) });
  await confirmIfAsked(workspace, sites, environmentsOf, request);

  const waves = fleet ? fleet.waves : plan.waves ? planWaves(sites, parseWaves(plan.waves)) : undefined;
  const maxFailures = fleet ? fleet.maxFailures : plan.maxFailures !== undefined ? parseFailureBudget(plan.maxFailures, sites.length) : undefined;
  const ledgerDir = workspace.inventory.ledgerDir;
  await writeRolloutState(ledgerDir, state).catch((error: unknown) => {
    throw stateWriteError(ledgerDir, error);
  });
  let saving = Promise.resolve();
  const startedAt = clock.now();
  const started = clock.monotonicMs();
  reporter.emit({ type: 'run-started', run: workspace.run, command: 'deploy', sites: sites.length });
  const result = await runRollout(
    workspace.inventory,
    items,
    {
      concurrency: request.concurrency ?? workspace.inventory.concurrency,
      environmentsOf,
      ...(waves ? { waves } : {}),
      ...(maxFailures !== undefined ? { maxFailures } : {}),
      onSiteFinished: async (outcome, rollout) => {
        await workspace.releaseSite(outcome.site);
        if (outcome.result !== 'ok' && outcome.result !== 'unchanged') return;
        state.done.push(outcome.site);
        // one write at a time, in order (sites finish concurrently), off the site's slot;
        // the last write is awaited before the run ends. A failed write stops the rollout
        // here and now (never an unhandled rejection that kills ozg mid-rollout).
        saving = saving.then(() => writeRolloutState(ledgerDir, state)).catch((error: unknown) => rollout.writeFailed(stateWriteError(ledgerDir, error)));
      },
    },
    { ...workspace.pipelineDeps(), ...(plan.reinstall ? { reinstall: true } : {}) },
  );
  await saving;
  const reportFailure = (error: RecordWriteError) => {
    result.writeFailures.push({ file: error.file, error: error.reason, lines: error.lines });
    reporter.emit({ type: 'write-failed', file: error.file, error: error.reason, lines: error.lines });
  };
  if (!result.stopped && !workspace.signal.aborted && result.writeFailures.length === 0) {
    state.finishedAt = clock.now().toISOString();
    await writeRolloutState(ledgerDir, state).catch((error: unknown) => reportFailure(stateWriteError(ledgerDir, error)));
  }
  if (result.writeFailures.length > 0) result.ok = false;
  reporter.emit({ type: 'run-finished', run: workspace.run, ok: result.ok, durationMs: elapsedMs(clock, started) });
  return { result, run: state.run, startedAt };
}

/**
 * A sharded or staged run plans over every selected site, so the canary job and every shard
 * agree on the canary and on each shard's share of the failure budget; after the canary, the
 * ledger must show it passed before any site of this shard is touched.
 */
async function planFleetRun(
  workspace: Workspace,
  plan: RolloutPlan,
  environmentsOf: (site: Site) => EnvironmentName[],
): Promise<{ items: ResolvedSetup[]; waves?: Site[][]; maxFailures?: number; note?: string }> {
  const everything = workspace.selectItems({ sites: plan.sites, selector: plan.selector, procedure: plan.procedure });
  const share = planFleetShare(uniqueSites(everything.map((item) => item.site)), plan);
  if (plan.stage === 'after-canary') {
    const canary = new Set(share.canary.map((site) => site.name));
    await checkCanaryPassed(
      everything.filter((item) => canary.has(item.site.name)),
      { environmentsOf, renderBundle: (item, environment) => workspace.renderBundle(item, environment), recorded: (key) => workspace.recorded(key) },
    );
  }
  const mine = new Set(share.sites.map((site) => site.name));
  return {
    items: everything.filter((item) => mine.has(item.site.name)),
    ...(share.waves ? { waves: share.waves } : {}),
    ...(share.maxFailures !== undefined ? { maxFailures: share.maxFailures } : {}),
    ...(share.budgetNote ? { note: share.budgetNote } : {}),
  };
}

function stateWriteError(ledgerDir: string, error: unknown): RecordWriteError {
  return new RecordWriteError(stateFile(ledgerDir), describeWriteFailure(error), {
    cause: error,
    what: `the rollout state ${stateFile(ledgerDir)}`,
    hint: `free space on (or repair) the disk holding ${ledgerDir}; until the state is written, \`ozg deploy --resume\` may redo sites that are already done (they are then unchanged)`,
  });
}

async function startState(workspace: Workspace, flags: DeployRequest): Promise<{ state: RolloutState; resumed: boolean }> {
  if (flags.resume) {
    if (flags.sites?.length || flags.selector || flags.procedure || flags.shard || flags.waves || flags.maxFailures || flags.onlyTest || flags.reinstall || flags.canaryOnly || flags.afterCanary) {
      throw new UsageError('--resume continues the interrupted rollout with its own selection, waves and budget', {
        hint: 'drop the other selection flags, or start a new rollout without --resume',
      });
    }
    return { state: await loadResumableState(workspace.inventory.ledgerDir), resumed: true };
  }
  const plan: RolloutPlan = { sites: flags.sites ?? [] };
  if (flags.selector) plan.selector = flags.selector;
  if (flags.procedure) plan.procedure = flags.procedure;
  if (flags.shard) plan.shard = flags.shard;
  if (flags.waves) plan.waves = flags.waves;
  if (flags.maxFailures !== undefined) plan.maxFailures = flags.maxFailures;
  if (flags.onlyTest) plan.onlyTest = true;
  if (flags.reinstall) plan.reinstall = true;
  if (flags.canaryOnly && flags.afterCanary) throw new UsageError('--canary-only and --after-canary are two stages: give one', { hint: 'the canary job runs --canary-only, each shard --after-canary' });
  if (flags.canaryOnly) plan.stage = 'canary';
  if (flags.afterCanary) plan.stage = 'after-canary';
  return { state: { run: workspace.run, startedAt: workspace.clock.now().toISOString(), plan, done: [] }, resumed: false };
}

/** Data centers may ask for a confirmation (`confirm: true`): asked on a terminal, else --yes is required. */
async function confirmIfAsked(workspace: Workspace, sites: Site[], environmentsOf: (site: Site) => string[], request: DeployRequest): Promise<void> {
  const asking = sites.filter((site) => {
    const dc = workspace.inventory.dataCenters.get(site.dataCenter)!;
    return environmentsOf(site).some((env) => dc.environments[env as 'test' | 'prod']?.confirm);
  });
  if (request.yes || asking.length === 0) return;
  const question = `Deploy to ${asking.length} site(s) in data centers that ask for confirmation (${[...new Set(asking.map((s) => s.dataCenter))].join(', ')})?`;
  if (!request.confirm) {
    throw new UsageError(`${question} There is no terminal to ask on.`, { hint: 'pass --yes to confirm in a pipeline' });
  }
  if (!(await request.confirm(question))) throw new UsageError('deploy not confirmed; nothing was changed');
}

function uniqueSites(sites: Site[]): Site[] {
  const seen = new Map<string, Site>();
  for (const site of sites) if (!seen.has(site.name)) seen.set(site.name, site);
  return [...seen.values()];
}
