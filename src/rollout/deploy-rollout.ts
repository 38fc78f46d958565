import type { EnvironmentName, ResolvedSetup, Site } from '../inventory/types.js';
import { matchesSelector, parseSelector } from '../inventory/select.js';
import { describeWriteFailure, formatProblem, RecordWriteError, UsageError, type Problem } from '../errors.js';
import { elapsedMs } from '../clock.js';
import { renderEachSite } from './render-all.js';
import { runRollout, type RolloutResult, type SiteOutcome } from './rollout.js';
import { coalesceStateWrites, loadResumableState, stateFile, writeRolloutState, type RolloutPlan, type RolloutState } from './rollout-state.js';
import { isInShard, parseFailureBudget, parseShard, parseWaves, planWaves, type WaveSpec } from './waves.js';
import { checkCanaryPassed, planFleetShare } from './canary.js';
import type { SelectionFlags, Workspace } from '../workspace/workspace.js';
import type { SiteSelection } from '../workspace/selection.js';

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
  const selection = fleet?.selection ?? workspace.select({ sites: plan.sites, selector: plan.selector, procedure: plan.procedure });
  const selected = selection.items.filter((item) => !done.has(item.site.name));
  if (resumed) reporter.emit({ type: 'info', message: `resuming run ${state.run}: ${done.size} site(s) already done, ${uniqueSites(selected.map((item) => item.site)).length + selection.invalid.filter((site) => !done.has(site.name)).length} to go` });
  if (fleet?.note) reporter.emit({ type: 'info', message: fleet.note });

  // Every bundle renders and fits its target before the first target is contacted: a site
  // whose setup or bundle is invalid is left out whole and reported as failed (exit 3),
  // never half-way through its pipeline; the other sites deploy. The pipeline reuses the bundles.
  const rendered = await renderEachSite(workspace, selected, { redactSecrets: false, ...(plan.onlyTest ? { only: 'test' as const } : {}) });
  const invalid = [...selection.invalid.filter((site) => !done.has(site.name)).map((site) => ({ site: site.name, problems: site.problems })), ...[...rendered.problems].map(([site, problems]) => ({ site, problems }))];
  const items = selected.filter((item) => !rendered.problems.has(item.site.name));
  const sites = uniqueSites(items.map((item) => item.site));
  await confirmIfAsked(workspace, items, environmentsOf, request);

  // a fleet run's waves and budget were planned over the whole fleet; otherwise over these sites
  const held = !fleet && plan.waves ? holdBehindRefusedWave(workspace, parseWaves(plan.waves), sites, new Set(invalid.map((i) => i.site))) : undefined;
  const going = new Set(sites.map((site) => site.name));
  // a fleet wave loses the sites already done or refused here, but keeps its place: the
  // fleet's numbering (the canary is wave 1 of every shard's count) stays
  const waves = fleet ? fleet.waves?.map((wave) => wave.filter((site) => going.has(site.name))) : held?.waves;
  const maxFailures = fleet ? fleet.maxFailures : plan.maxFailures !== undefined ? parseFailureBudget(plan.maxFailures, sites.length) : undefined;
  const ledgerDir = workspace.inventory.ledgerDir;
  await writeRolloutState(ledgerDir, state).catch((error: unknown) => {
    throw stateWriteError(ledgerDir, error);
  });
  // off the site's slot; a failed write stops the rollout here and now (never an unhandled
  // rejection that kills ozg mid-rollout)
  let running: { writeFailed(error: RecordWriteError): void } | undefined;
  const saving = coalesceStateWrites(
    () => writeRolloutState(ledgerDir, state),
    (error) => running?.writeFailed(stateWriteError(ledgerDir, error)),
  );
  const startedAt = clock.now();
  const started = clock.monotonicMs();
  reporter.emit({ type: 'run-started', run: workspace.run, command: 'deploy', sites: sites.length + invalid.length });
  const refused = [...invalid.map(({ site, problems }) => refuseSite(workspace, site, problems)), ...(held?.skipped ?? [])];
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
        running = rollout;
        saving.request();
      },
    },
    { ...workspace.pipelineDeps(), ...(plan.reinstall ? { reinstall: true } : {}) },
  );
  await saving.settled();
  mergeRefusedSites(result, refused, workspace.everySite.map((site) => site.name));
  const reportFailure = (error: RecordWriteError) => {
    result.writeFailures.push({ file: error.file, error: error.reason, lines: error.lines });
    reporter.emit({ type: 'write-failed', file: error.file, error: error.reason, lines: error.lines });
  };
  // a site left out for its problems is not done: once fixed, `--resume` deploys it
  if (!result.stopped && !workspace.signal.aborted && result.writeFailures.length === 0 && refused.length === 0) {
    state.finishedAt = clock.now().toISOString();
    await writeRolloutState(ledgerDir, state).catch((error: unknown) => reportFailure(stateWriteError(ledgerDir, error)));
  }
  if (result.writeFailures.length > 0) result.ok = false;
  reporter.emit({ type: 'run-finished', run: workspace.run, ok: result.ok, durationMs: elapsedMs(clock, started), ...(workspace.signal.aborted ? { interrupted: true } : {}) });
  return { result, run: state.run, startedAt };
}

/**
 * A sharded or staged run plans over every selected valid site, so the canary job and every
 * shard agree on the canary and on each shard's share of the failure budget; after the
 * canary, the ledger must show it passed before any site of this shard is touched. A selected
 * site with invalid input is reported by the shard it hashes into (never by the canary job).
 */
async function planFleetRun(
  workspace: Workspace,
  plan: RolloutPlan,
  environmentsOf: (site: Site) => EnvironmentName[],
): Promise<{ selection: SiteSelection; waves?: Site[][]; maxFailures?: number; note?: string }> {
  const whole = workspace.select({ sites: plan.sites, selector: plan.selector, procedure: plan.procedure });
  const everything = whole.items;
  const share = planFleetShare(uniqueSites(everything.map((item) => item.site)), plan);
  if (plan.stage === 'after-canary') {
    const canary = new Set(share.canary.map((site) => site.name));
    await checkCanaryPassed(
      everything.filter((item) => canary.has(item.site.name)),
      { environmentsOf, renderBundle: (item, environment) => workspace.renderBundle(item, environment), recorded: (key) => workspace.recorded(key) },
    );
  }
  const mine = new Set(share.sites.map((site) => site.name));
  const shard = plan.shard ? parseShard(plan.shard) : undefined;
  const invalid = plan.stage === 'canary' ? [] : whole.invalid.filter((site) => !shard || isInShard(site.name, shard));
  return {
    selection: { ...whole, items: everything.filter((item) => mine.has(item.site.name)), invalid },
    ...(share.waves ? { waves: share.waves } : {}),
    ...(share.maxFailures !== undefined ? { maxFailures: share.maxFailures } : {}),
    ...(share.budgetNote ? { note: share.budgetNote } : {}),
  };
}

/** A selected site whose setup is invalid: failed as that site, with its problems, before any target is contacted. */
function refuseSite(workspace: Workspace, site: string, problems: Problem[]): SiteOutcome {
  const reason = `invalid input, not deployed (${problems.length} problem(s)):\n${problems.map(formatProblem).join('\n')}`;
  workspace.reporter.emit({ type: 'site-finished', site, outcome: 'failed', error: reason });
  return { site, result: 'failed', items: [], reason, problems };
}

/**
 * The waves of the sites that deploy. Counts and percentages count the sites that deploy;
 * but a selector wave whose every site was refused for invalid input (a canary ring with a
 * missing secret) must not vanish and let the next waves go without it: the waves after it
 * are held back, their sites reported as skipped.
 */
function holdBehindRefusedWave(workspace: Workspace, specs: WaveSpec[], sites: Site[], refused: Set<string>): { waves: Site[][]; skipped: SiteOutcome[] } {
  const refusedSites = workspace.everySite.filter((site) => refused.has(site.name));
  const blocked = specs.findIndex((spec) => {
    if (spec.kind !== 'selector') return false;
    const requirements = parseSelector(spec.selector);
    return !sites.some((site) => matchesSelector(site, requirements)) && refusedSites.some((site) => matchesSelector(site, requirements));
  });
  if (blocked < 0) return { waves: planWaves(sites, specs), skipped: [] };
  const waves = planWaves(sites, specs.slice(0, blocked), { rest: false });
  const going = new Set(waves.flat().map((site) => site.name));
  const reason = `held back: every site of wave "${(specs[blocked] as { selector: string }).selector}" has invalid input, and the waves after it do not go without it`;
  workspace.reporter.emit({ type: 'warning', message: reason });
  const skipped = sites
    .filter((site) => !going.has(site.name))
    .map((site): SiteOutcome => {
      workspace.reporter.emit({ type: 'site-finished', site: site.name, outcome: 'skipped', error: reason });
      return { site: site.name, result: 'skipped', items: [], reason };
    });
  return { waves, skipped };
}

/** The refused sites join the rollout's, in inventory order. */
function mergeRefusedSites(result: RolloutResult, refused: SiteOutcome[], order: string[]): void {
  if (refused.length === 0) return;
  const rank = new Map(order.map((name, index) => [name, index]));
  const position = (outcome: SiteOutcome) => rank.get(outcome.site) ?? order.length;
  result.sites = [...result.sites, ...refused].sort((a, b) => position(a) - position(b));
  result.ok = false;
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
async function confirmIfAsked(workspace: Workspace, items: ResolvedSetup[], environmentsOf: (site: Site) => string[], request: DeployRequest): Promise<void> {
  const asked = (site: Site) => {
    const dc = workspace.inventory.dataCenters.get(site.dataCenter)!;
    return environmentsOf(site).filter((env) => dc.environments[env as 'test' | 'prod']?.confirm);
  };
  const asking = uniqueSites(items.map((item) => item.site)).filter((site) => asked(site).length > 0);
  if (request.yes || asking.length === 0) return;
  const question = `Deploy ${describeVersions(items.filter((item) => asked(item.site).length > 0))} to ${[...new Set(asking.flatMap(asked))].join(' and ')} of ${asking.length} site(s) in data centers that ask for confirmation (${[...new Set(asking.map((s) => s.dataCenter))].join(', ')})?`;
  if (!request.confirm) {
    throw new UsageError(`${question} There is no terminal to ask on.`, { hint: 'pass --yes to confirm in a pipeline' });
  }
  if (!(await request.confirm(question))) throw new UsageError('deploy not confirmed; nothing was changed');
}

/** "antrag-formular 1.2.0, probe 1.0.0 and 2.0.0": each procedure with the versions it goes to, the first few. */
function describeVersions(items: ResolvedSetup[]): string {
  const versions = new Map<string, Set<string>>();
  for (const item of items) versions.set(item.procedure.name, (versions.get(item.procedure.name) ?? new Set()).add(item.procedure.version));
  const named = [...versions.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, set]) => `${name} ${[...set].sort().join(' and ')}`);
  return named.length <= 4 ? named.join(', ') : `${named.slice(0, 4).join(', ')} and ${named.length - 4} more procedure(s)`;
}

function uniqueSites(sites: Site[]): Site[] {
  const seen = new Map<string, Site>();
  for (const site of sites) if (!seen.has(site.name)) seen.set(site.name, site);
  return [...seen.values()];
}
