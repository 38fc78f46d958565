import pLimit from 'p-limit';
import type { EnvironmentName, ResolvedSetup } from '../inventory/types.js';
import { ClusterError, describeError, ExitCode, RemoteCommandError, UnreachableError } from '../errors.js';
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
  /** a rollback holds this target off the desired bundle: a deploy skips it */
  hold?: HoldInfo;
  /** the target could not be read */
  error?: string;
  unreachable?: boolean;
}

/**
 * Reads every selected target without changing anything. Render errors are input errors
 * and stop the whole command; a target that cannot be read is reported in its row.
 */
async function inspectTargets(workspace: Workspace, items: ResolvedSetup[], only?: EnvironmentName, options: { preview?: boolean } = {}): Promise<InspectedTarget[]> {
  const limit = pLimit(Math.max(1, workspace.inventory.concurrency));
  const jobs = items.flatMap((item) =>
    workspace.environmentsOf(item.site, only).map((environment) =>
      limit(async (): Promise<InspectedTarget> => {
        const row: InspectedTarget = { site: item.site.name, environment, procedure: item.procedure.name, desired: item.procedure.version };
        const bundle = await workspace.renderBundle(item, environment);
        try {
          const driver = await workspace.driver(item.site, environment);
          const live = await driver.live(item.procedure.name);
          row.plan = planTarget(bundle, live, workspace.recorded(row));
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
      }),
    ),
  );
  return Promise.all(jobs);
}

/** `ozg plan`'s result: what a deploy would do to each selected target. */
export interface PlanResult {
  /** targets a deploy would change */
  pending: number;
  /** targets a deploy would skip because a rollback holds them */
  held?: number;
  targets: InspectedTarget[];
}

/** A dry run of a deploy: renders everything, reads every target, changes nothing. */
export async function planTargets(workspace: Workspace, items: ResolvedSetup[]): Promise<PlanResult> {
  const targets = await inspectTargets(workspace, items, undefined, { preview: true });
  return { pending: targets.filter((t) => t.plan && t.plan.action !== 'unchanged' && !t.hold).length, held: targets.filter((t) => t.hold).length, targets };
}

export function exitCodeForPlan(result: PlanResult): number {
  if (result.targets.some((t) => t.error)) return ExitCode.unreachable;
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
}

/** `ozg status`'s result: recorded, live and desired version of each selected target. */
export interface StatusResult {
  targets: TargetStatus[];
}

export async function readStatus(workspace: Workspace, items: ResolvedSetup[]): Promise<StatusResult> {
  const rows = await inspectTargets(workspace, items);
  return { targets: rows.map(toTargetStatus) };
}

export function exitCodeForStatus(result: StatusResult): number {
  return result.targets.some((t) => t.error !== null) ? ExitCode.unreachable : ExitCode.ok;
}

function toTargetStatus(row: InspectedTarget): TargetStatus {
  return {
    site: row.site,
    environment: row.environment,
    procedure: row.procedure,
    desired: row.desired,
    live: row.plan?.live?.version ?? null,
    liveRelease: row.plan?.live?.release ?? null,
    recorded: row.plan?.recorded?.version ?? null,
    action: row.plan?.action ?? null,
    upToDate: row.plan ? row.plan.action === 'unchanged' : null,
    drift: row.plan?.drift ?? null,
    ...(row.hold ? { hold: row.hold } : {}),
    error: row.error ?? null,
  };
}
