import pLimit from 'p-limit';
import type { EnvironmentName, ResolvedSetup } from '../inventory/types.js';
import { ClusterError, describeError, ExitCode, formatProblem, InvalidInputError, RemoteCommandError, RenderError, SecretUnavailableError, UnreachableError } from '../errors.js';
import { planTarget, type PlanAction, type TargetPlan } from './plan.js';
import { canDiff, type BundleDiff } from '../targets/driver.js';
import type { Workspace } from '../workspace/workspace.js';
import { holdBlocking, type HoldInfo } from '../ledger/hold.js';

/** One target as plan and status see it: desired (rendered), live (marker), recorded (ledger). */
export interface InspectedTarget {
  site: string;
  environment: EnvironmentName;
  procedure: string;
  /** the version a deploy would bring, known even when the target cannot be read */
  desired: string;
  plan?: TargetPlan;
  /** objects a deploy would create, change or prune, from a server-side dry run */
  objects?: BundleDiff;
  /** the version the ledger last recorded for this target, known even when the target cannot be read */
  recorded?: string;
  /** the target could not be read, or (with `inputError`) the desired release could not be built */
  /** a rollback holds this target off the desired bundle: a deploy skips it */
  hold?: HoldInfo;
  error?: string;
  unreachable?: boolean;
  /** a secret of the setup is not available here, or its bundle does not build: the desired hash is unknown, live and recorded are still shown */
  inputError?: boolean;
  /** without a plan: what the target and the ledger hold */
  live?: { version: string; release: string };
  /** offline (`report --offline`): the desired bundle's hash, the target never contacted */
  desiredHash?: string;
}

export interface InspectOptions {
  /** Kubernetes: a server-side dry run of each pending change */
  preview?: boolean;
  /** render the desired bundle but contact no target (`ozg report --offline`) */
  offline?: boolean;
}

/**
 * Reads every selected target without changing anything. A target that cannot be read, or
 * whose desired bundle cannot be built here (a secret not available, a template error), is
 * reported in its row.
 */
export async function inspectTargets(workspace: Workspace, items: ResolvedSetup[], only?: EnvironmentName, options: InspectOptions = {}): Promise<InspectedTarget[]> {
  const limit = pLimit(Math.max(1, workspace.inventory.concurrency));
  // a site's driver (connection) is closed once its last row is read: 22,000 open drivers held ~30 MB
  const rowsLeft = new Map<string, number>();
  for (const item of items) rowsLeft.set(item.site.name, (rowsLeft.get(item.site.name) ?? 0) + workspace.environmentsOf(item.site, only).length);
  const rowDone = async (site: string): Promise<void> => {
    const left = rowsLeft.get(site)! - 1;
    rowsLeft.set(site, left);
    if (left === 0) await workspace.releaseSite(site);
  };
  const jobs = items.flatMap((item) =>
    workspace.environmentsOf(item.site, only).map((environment) =>
      limit(async (): Promise<InspectedTarget> => {
        const row = await inspectTarget(workspace, item, environment, options);
        await rowDone(item.site.name);
        return row;
      }),
    ),
  );
  return Promise.all(jobs);
}

/** One target's row: its desired bundle rendered, its live release read and compared. */
async function inspectTarget(workspace: Workspace, item: ResolvedSetup, environment: EnvironmentName, options: InspectOptions): Promise<InspectedTarget> {
  const row: InspectedTarget = { site: item.site.name, environment, procedure: item.procedure.name, desired: item.procedure.version };
  const recorded = workspace.recorded(row);
  if (recorded) row.recorded = recorded.version;
  // only the hash is compared (and a Kubernetes preview reads the files): not kept for the run
  const bundle = await workspace.renderBundle(item, environment, { keep: false }).catch((error: unknown) => {
    // status and plan never need secret values, nor every site's templates to render,
    // to say what is live and recorded: one site's problem stays in its rows
    if (error instanceof SecretUnavailableError) row.error = `desired release not comparable: ${describeError(error)}`;
    else if (error instanceof InvalidInputError) row.error = `desired release does not build: ${error.problems.map(formatProblem).join('; ')}`;
    else if (error instanceof RenderError) row.error = `desired release does not build: ${error.message}`;
    else throw error;
    row.inputError = true;
    return undefined;
  });
  if (!bundle) return options.offline ? row : await readWithoutBundle(workspace, item, row);
  if (options.offline) {
    row.desiredHash = bundle.hash;
    const hold = recorded?.hash === bundle.hash ? undefined : holdBlocking(workspace.holding(row), bundle.hash);
    if (hold) row.hold = hold;
    return row;
  }
  try {
    const driver = await workspace.driver(item.site, environment);
    const live = await driver.live(item.procedure.name);
    row.plan = planTarget(bundle, live, recorded);
    const hold = row.plan.action === 'unchanged' ? undefined : holdBlocking(workspace.holding(row), bundle.hash);
    if (hold) row.hold = hold;
    // where the target can preview a change (Kubernetes server-side dry run), say what it would touch
    if (options.preview && row.plan.action !== 'unchanged' && !row.hold && canDiff(driver)) row.objects = await driver.diffBundle(bundle);
  } catch (error) {
    if (!(error instanceof UnreachableError || error instanceof RemoteCommandError || error instanceof ClusterError)) throw error;
    row.error = describeError(error);
    row.unreachable = error instanceof UnreachableError;
  }
  return row;
}

/** The target's live release and the ledger's record, when the desired bundle cannot be built. */
async function readWithoutBundle(workspace: Workspace, item: ResolvedSetup, row: InspectedTarget): Promise<InspectedTarget> {
  try {
    const live = await (await workspace.driver(item.site, row.environment)).live(item.procedure.name);
    if (live) row.live = { version: live.version, release: live.release };
  } catch (error) {
    if (!(error instanceof UnreachableError || error instanceof RemoteCommandError || error instanceof ClusterError)) throw error;
    row.error = `${row.error}; ${describeError(error)}`;
    row.unreachable = error instanceof UnreachableError;
  }
  return row;
}

/** `ozg plan`'s result: what a deploy would do to each selected target. */
export interface PlanResult {
  /** targets a deploy would change (of those that could be read) */
  pending: number;
  /** targets that could not be read: what a deploy would do to them is unknown */
  unknown: number;
  /** targets a deploy would skip because a rollback holds them */
  held?: number;
  targets: InspectedTarget[];
}

/** A dry run of a deploy: renders everything, reads every target, changes nothing. */
export async function planTargets(workspace: Workspace, items: ResolvedSetup[]): Promise<PlanResult> {
  const targets = await inspectTargets(workspace, items, undefined, { preview: true });
  return {
    pending: targets.filter((t) => t.plan && t.plan.action !== 'unchanged' && !t.hold).length,
    unknown: targets.filter((t) => t.error && !t.inputError).length,
    held: targets.filter((t) => t.hold).length,
    targets,
  };
}

export function exitCodeForPlan(result: PlanResult): number {
  if (result.targets.some((t) => t.error && !t.inputError)) return ExitCode.unreachable;
  if (result.targets.some((t) => t.inputError)) return ExitCode.invalidInput;
  return result.pending > 0 ? ExitCode.changesPending : ExitCode.ok;
}

/** One target as `ozg status` reports it: each version flat, `null` where it is not known. */
export interface TargetStatus {
  site: string;
  environment: EnvironmentName;
  procedure: string;
  desired: string;
  live: string | null;
  liveRelease: string | null;
  recorded: string | null;
  /** what a deploy would do; null when the target could not be read */
  action: PlanAction | null;
  upToDate: boolean | null;
  drift: boolean | null;
  /** the rollback hold that keeps a deploy from bringing the desired bundle (present only then) */
  hold?: HoldInfo;
  error: string | null;
  /** the error is a secret not available here: live and recorded are still read */
  inputError?: boolean;
}

/** `ozg status`'s result: recorded, live and desired version of each selected target. */
export interface StatusResult {
  targets: TargetStatus[];
}

export async function readStatus(workspace: Workspace, items: ResolvedSetup[]): Promise<StatusResult> {
  const rows = await inspectTargets(workspace, items);
  return { targets: rows.map(toTargetStatus) };
}

/**
 * Unreachable targets exit 6, and a desired release that cannot be built here exits 3. With
 * `detailed` (`status --exit-code`) drift exits 11 and a pending change 10, so CI can gate on
 * status; without it both exit 0, as scripts written before expect.
 */
export function exitCodeForStatus(result: StatusResult, options: { detailed?: boolean } = {}): number {
  if (result.targets.some((t) => t.error !== null && !t.inputError)) return ExitCode.unreachable;
  if (result.targets.some((t) => t.inputError)) return ExitCode.invalidInput;
  if (!options.detailed) return ExitCode.ok;
  if (result.targets.some((t) => t.drift)) return ExitCode.drift;
  return result.targets.some((t) => t.upToDate === false) ? ExitCode.changesPending : ExitCode.ok;
}

function toTargetStatus(row: InspectedTarget): TargetStatus {
  return {
    site: row.site,
    environment: row.environment,
    procedure: row.procedure,
    desired: row.desired,
    live: row.plan?.live?.version ?? row.live?.version ?? null,
    liveRelease: row.plan?.live?.release ?? row.live?.release ?? null,
    recorded: row.recorded ?? null,
    action: row.plan?.action ?? null,
    upToDate: row.plan ? row.plan.action === 'unchanged' : null,
    drift: row.plan?.drift ?? null,
    ...(row.hold ? { hold: row.hold } : {}),
    error: row.error ?? null,
    ...(row.inputError ? { inputError: true } : {}),
  };
}
