import type { EnvironmentName, ResolvedSetup, Site } from '../inventory/types.js';
import type { Bundle } from '../procedure/types.js';
import type { HeldBundle, LedgerRecord, ReleaseOutcome } from '../ledger/types.js';
import type { Reporter, Step } from '../events.js';
import type { SmokeResult } from '../smoke/types.js';
import type { LiveRelease, TargetDriver } from '../targets/driver.js';
import { ConcurrentChangeError, describeError, InterruptedError, InvalidInputError, OzgError, UnreachableError } from '../errors.js';
import { elapsedMs, type Clock } from '../clock.js';
import { createReleaseId } from './release-id.js';
import { isUnrecordedRelease, planTarget, type TargetPlan } from './plan.js';
import type { TargetKey } from './target-key.js';
import { holdBlocking, toHoldReason, type HoldInfo } from '../ledger/hold.js';

/** A ledger record before the ledger stamps id, time, actor and run on it. */
export type RecordInput = Omit<LedgerRecord, 'id' | 'time' | 'actor' | 'run'>;

/** Everything the pipeline touches, passed in: it knows no SSH, no Kubernetes, no files. */
export interface PipelineDeps {
  renderBundle(item: ResolvedSetup, environment: EnvironmentName): Promise<Bundle>;
  driver(site: Site, environment: EnvironmentName): Promise<TargetDriver>;
  /** the last release the ledger holds for this target (applied or rolled back) */
  recorded(key: TargetKey): LedgerRecord | undefined;
  /** the rollback record holding this target (ledger/hold.ts); absent: nothing is held */
  holding?(key: TargetKey): LedgerRecord | undefined;
  record(record: RecordInput): Promise<void>;
  reporter: Reporter;
  /** release ids and durations: the run's one clock */
  clock: Clock;
  signal?: AbortSignal;
  /** `deploy --reinstall`: an unchanged target is applied again, through the same gate */
  reinstall?: boolean;
}

export type EnvironmentStatus = 'unchanged' | 'applied' | 'adopted' | 'smoke-failed' | 'apply-failed' | 'rolled-back' | 'skipped' | 'held';

export interface EnvironmentOutcome {
  environment: EnvironmentName;
  status: EnvironmentStatus;
  version: string;
  release?: string;
  smoke: SmokeResult[];
  error?: string;
  /** what to do about the error, when the error says (an OzgError's hint) */
  hint?: string;
  /** the failure was reaching the target at all */
  unreachable?: boolean;
  /** the target refused the bundle's content (e.g. a field the API server's schema lacks): an input error */
  invalidInput?: boolean;
  /** status `held`: the rollback hold that refused this bundle (`skipped`: the earlier environment that was held) */
  hold?: HoldInfo;
}

export type ItemResult = 'ok' | 'unchanged' | 'test-gate-failed' | 'failed';

/** What happened to one site's procedure across its environments. */
export interface ItemOutcome {
  site: string;
  procedure: string;
  version: string;
  result: ItemResult;
  environments: EnvironmentOutcome[];
}

interface Stage {
  environment: EnvironmentName;
  driver: TargetDriver;
  bundle: Bundle;
  live: LiveRelease | undefined;
  plan: TargetPlan;
  /** a rollback hold refuses exactly this bundle here: the stage (and every later one) is not run */
  hold?: HoldInfo;
}

/**
 * Moves one site's procedure through its environments: test (apply → smoke) gates prod
 * (apply → smoke → roll back on failure). Every step that changes a target is recorded
 * right away, so a run killed half-way loses nothing it did.
 */
export async function deployItem(item: ResolvedSetup, environments: EnvironmentName[], deps: PipelineDeps): Promise<ItemOutcome> {
  const outcome: ItemOutcome = {
    site: item.site.name,
    procedure: item.procedure.name,
    version: item.procedure.version,
    result: 'unchanged',
    environments: [],
  };
  const stages: Stage[] = [];
  try {
    await prepareStages(item, environments, deps, stages);
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    outcome.result = 'failed';
    // the environment that could not be prepared (e.g. prod's host unreachable), not always the first
    const failed = failedOutcome(environments[stages.length] ?? environments[0] ?? 'test', item, error);
    outcome.environments.push(failed);
    // recorded too: the ledger shows every attempt, also one that never reached its target
    await deps.record({
      site: item.site.name,
      environment: failed.environment,
      procedure: item.procedure.name,
      version: item.procedure.version,
      hash: '',
      outcome: 'apply-failed',
      smoke: [],
      durationMs: 0,
      ...(failed.error ? { error: failed.error } : {}),
    });
    return outcome;
  }
  if (stages.every((s) => s.plan.action === 'unchanged' && !isUnrecordedRelease(s.plan))) {
    for (const s of stages) outcome.environments.push({ environment: s.environment, status: 'unchanged', version: s.bundle.version, release: s.live?.release, smoke: [] });
    report(deps, item, stages[0]!.environment, 'plan', 'unchanged, nothing to do');
    return outcome;
  }

  // A held stage is not run, and neither is any later one: prod is gated by test's result for
  // exactly this bundle, which a held test never gives. Nothing is recorded for them: the
  // hold is in the ledger already, and a skip per run would only repeat it.
  const heldAt = stages.findIndex((s) => s.hold !== undefined);
  const held = heldAt === -1 ? [] : stages.splice(heldAt);
  const finish = () => {
    for (const [index, stage] of held.entries()) {
      outcome.environments.push({ environment: stage.environment, status: index === 0 ? 'held' : 'skipped', version: stage.bundle.version, release: stage.live?.release, smoke: [], hold: held[0]!.hold! });
    }
    return outcome;
  };
  if (held.length > 0) report(deps, item, held[0]!.environment, 'hold', describeHeld(held[0]!.hold!));
  const stamp = deps.clock.now();
  for (const [index, stage] of stages.entries()) {
    const gatesLaterStage = stages.slice(index + 1).some((s) => s.plan.action !== 'unchanged');
    if (stage.plan.action === 'unchanged' && !gatesLaterStage && !isUnrecordedRelease(stage.plan)) {
      outcome.environments.push({ environment: stage.environment, status: 'unchanged', version: stage.bundle.version, release: stage.live?.release, smoke: [] });
      continue;
    }
    const result = await runStage(item, stage, stamp, deps);
    outcome.environments.push(result);
    if (result.status === 'applied' || result.status === 'adopted' || result.status === 'unchanged') continue;
    outcome.result = stage.environment === 'test' && result.status === 'smoke-failed' ? 'test-gate-failed' : 'failed';
    for (const skipped of stages.slice(index + 1)) {
      outcome.environments.push({ environment: skipped.environment, status: 'skipped', version: skipped.bundle.version, smoke: [] });
      await deps.record(recordFor(item, skipped, 'skipped', { durationMs: 0, error: `${stage.environment} ${result.status}` }));
    }
    return finish();
  }
  // only the held part left: nothing ran, as for an unchanged item
  outcome.result = stages.every((s) => s.plan.action === 'unchanged' && !isUnrecordedRelease(s.plan)) ? 'unchanged' : 'ok';
  return finish();
}

function describeHeld(hold: HoldInfo): string {
  return `held: ${hold.version} was rolled back by ${hold.by} at ${hold.since} (${hold.reason}); \`ozg unhold\` releases it`;
}

/** Fills `stages` one environment at a time, so a failure leaves the ones prepared before it. */
async function prepareStages(item: ResolvedSetup, environments: EnvironmentName[], deps: PipelineDeps, stages: Stage[]): Promise<void> {
  for (const environment of environments) {
    checkAborted(deps);
    const bundle = await deps.renderBundle(item, environment);
    const driver = await deps.driver(item.site, environment);
    const live = await driver.live(item.procedure.name, bundle);
    const key = { site: item.site.name, environment, procedure: item.procedure.name };
    const plan = planTarget(bundle, live, deps.recorded(key));
    // a target already running the held bundle (put back by hand) has nothing to refuse
    const hold = plan.action === 'unchanged' ? undefined : holdBlocking(deps.holding?.(key), bundle.hash);
    if (deps.reinstall && plan.action === 'unchanged') plan.action = 'reinstall';
    stages.push({ environment, driver, bundle, live, plan, ...(hold ? { hold } : {}) });
  }
}

/**
 * One environment. An unchanged target still runs its smoke checks when a later stage will
 * change: the gate must have passed for exactly what prod is about to get.
 */
async function runStage(item: ResolvedSetup, stage: Stage, stamp: Date, deps: PipelineDeps): Promise<EnvironmentOutcome> {
  const { environment, driver, bundle } = stage;
  const started = deps.clock.monotonicMs();
  const base = { environment, version: bundle.version };
  let release = stage.live?.release;
  let applied = false;
  const adopting = isUnrecordedRelease(stage.plan);
  if (adopting) {
    report(deps, item, environment, 'plan', `release ${release} (${bundle.version}) is live but not in the ledger: smoke-testing it to record it`);
  }
  if (stage.plan.action !== 'unchanged') {
    checkAborted(deps);
    report(deps, item, environment, 'apply', `${stage.plan.action} → ${bundle.version}`);
    try {
      const result = await driver.apply(bundle, createReleaseId(stamp, bundle.hash), stage.plan.action === 'reinstall' ? { reinstall: true } : {});
      release = result.live.release;
      applied = result.status === 'applied';
    } catch (error) {
      if (error instanceof InterruptedError) throw error;
      const failed = failedOutcome(environment, item, error);
      await deps.record(recordFor(item, stage, 'apply-failed', { durationMs: elapsedMs(deps.clock, started), error: failed.error }));
      // after another run's change, the target is that run's: putting a release back would undo it
      if (!failed.unreachable && !(error instanceof ConcurrentChangeError)) await restoreAfterFailedApply(item, stage, deps);
      return failed;
    }
  }

  // No interruption point between apply and smoke: a stage that changed its target finishes
  // and is recorded, so Ctrl-C never leaves an applied release without a record.
  report(deps, item, environment, 'smoke', `${bundle.smoke.length} check(s)`);
  const smoke = await runSmoke(item, stage, deps);
  const passed = smoke.every((r) => r.passed);
  if (passed) {
    await deps.record(recordFor(item, stage, applied ? 'applied' : adopting ? 'adopted' : 'tested', { release, smoke, durationMs: elapsedMs(deps.clock, started) }));
    return { ...base, status: applied ? 'applied' : adopting ? 'adopted' : 'unchanged', release, smoke };
  }

  const failedNames = smoke.filter((r) => !r.passed).map((r) => `${r.name}: ${r.detail}`).join('; ');
  await deps.record(recordFor(item, stage, 'smoke-failed', { release, smoke, durationMs: elapsedMs(deps.clock, started), error: failedNames }));
  // a release that went live unrecorded never passed its gate: undo it as its own run would have.
  // In prod the bundle is then held: the next run must not put it back without a decision.
  // Test is not held: it is the gate, failing there is its purpose and prod never got it.
  const hold = environment === 'prod' ? { version: bundle.version, hash: bundle.hash, reason: toHoldReason(`prod smoke checks failed: ${failedNames}`) } : undefined;
  if (applied || adopting) await rollBack(item, stage, deps, undefined, hold);
  return { ...base, status: 'smoke-failed', release, smoke, error: failedNames };
}

async function runSmoke(item: ResolvedSetup, stage: Stage, deps: PipelineDeps): Promise<SmokeResult[]> {
  try {
    const results = await stage.driver.smoke(item.procedure.name, stage.bundle.smoke);
    for (const result of results) {
      deps.reporter.emit({ type: 'smoke-result', site: item.site.name, environment: stage.environment, procedure: item.procedure.name, result });
    }
    return results;
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    return [{ name: 'smoke', passed: false, attempts: 1, durationMs: 0, detail: describeError(error) }];
  }
}

/**
 * A driver that cannot undo a failed apply by itself (Kubernetes: objects applied, rollout
 * never ready) reports it as `incomplete` on the live release; the pipeline then puts the
 * last good release back. A VM driver reverts inside its apply script and reports nothing.
 */
async function restoreAfterFailedApply(item: ResolvedSetup, stage: Stage, deps: PipelineDeps): Promise<void> {
  if (!stage.live) return; // a first install has nothing to go back to
  const after = await stage.driver.live(item.procedure.name).catch(() => undefined);
  if (!after?.incomplete) return;
  await rollBack(item, stage, deps, after.release);
}

/** A release that failed its smoke checks is replaced by the one before it, when there is one. */
async function rollBack(item: ResolvedSetup, stage: Stage, deps: PipelineDeps, toRelease?: string, hold?: HeldBundle): Promise<void> {
  report(deps, item, stage.environment, 'rollback', toRelease ? `restoring release ${toRelease}` : 'switching back to the previous release');
  const started = deps.clock.monotonicMs();
  try {
    const result = await stage.driver.rollback(item.procedure.name, toRelease);
    if (result.status === 'nothing-to-roll-back') {
      report(deps, item, stage.environment, 'rollback', `nothing to roll back to: ${result.reason}`);
      return;
    }
    await deps.record({
      ...recordFor(item, stage, 'rolled-back', { release: result.live.release, durationMs: elapsedMs(deps.clock, started) }),
      version: result.live.version,
      hash: result.live.hash,
      ...(hold ? { hold } : {}),
    });
    if (hold) report(deps, item, stage.environment, 'hold', `${hold.version} is held: the next deploy skips it until \`ozg unhold ${item.site.name} -p ${item.procedure.name} -e ${stage.environment}\` or a new version`);
  } catch (error) {
    if (error instanceof InterruptedError) throw error;
    deps.reporter.emit({ type: 'warning', message: `${item.site.name}/${stage.environment}: rollback failed: ${describeError(error)}` });
  }
}

function recordFor(
  item: ResolvedSetup,
  stage: Pick<Stage, 'environment' | 'bundle'>,
  outcome: ReleaseOutcome,
  extra: { release?: string; smoke?: SmokeResult[]; durationMs: number; error?: string },
): RecordInput {
  const record: RecordInput = {
    site: item.site.name,
    environment: stage.environment,
    procedure: item.procedure.name,
    version: stage.bundle.version,
    hash: stage.bundle.hash,
    outcome,
    smoke: extra.smoke ?? [],
    durationMs: extra.durationMs,
  };
  if (extra.release) record.release = extra.release;
  if (extra.error) record.error = extra.error;
  return record;
}

function failedOutcome(environment: EnvironmentName, item: ResolvedSetup, error: unknown): EnvironmentOutcome {
  return {
    environment,
    status: 'apply-failed',
    version: item.procedure.version,
    smoke: [],
    error: describeError(error),
    ...(error instanceof OzgError && error.hint ? { hint: error.hint } : {}),
    unreachable: error instanceof UnreachableError,
    ...(error instanceof InvalidInputError ? { invalidInput: true } : {}),
  };
}

function report(deps: PipelineDeps, item: ResolvedSetup, environment: EnvironmentName, step: Step, message: string): void {
  deps.reporter.emit({ type: 'step', site: item.site.name, environment, procedure: item.procedure.name, step, message });
}

function checkAborted(deps: PipelineDeps): void {
  if (!deps.signal?.aborted) return;
  // the rollout stopped itself (a record it could not write) and says why; Ctrl-C says nothing
  if (deps.signal.reason instanceof InterruptedError) throw deps.signal.reason;
  throw new InterruptedError('interrupted: stopped before the next step');
}
