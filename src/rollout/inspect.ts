import pLimit from 'p-limit';
import type { EnvironmentName } from '../inventory/types.js';
import { ClusterError, RemoteCommandError, UnreachableError } from '../errors.js';
import { describeError } from './pipeline.js';
import { planTarget, type TargetPlan } from './plan.js';
import { canDiff, type BundleDiff } from '../targets/driver.js';
import type { WorkItem } from './work-item.js';
import type { Workspace } from '../workspace/workspace.js';

/** One target as plan and status see it: desired (rendered), live (marker), recorded (ledger). */
export interface TargetRow {
  site: string;
  environment: EnvironmentName;
  procedure: string;
  /** the version a deploy would bring, known even when the target cannot be read */
  desired: string;
  plan?: TargetPlan;
  /** objects a deploy would create, change or prune, from a server-side dry run */
  objects?: BundleDiff;
  /** the target could not be read */
  error?: string;
  unreachable?: boolean;
}

/**
 * Reads every selected target without changing anything. Render errors are input errors
 * and stop the whole command; a target that cannot be read is reported in its row.
 */
export async function inspectTargets(workspace: Workspace, items: WorkItem[], only?: EnvironmentName, options: { preview?: boolean } = {}): Promise<TargetRow[]> {
  const limit = pLimit(Math.max(1, workspace.inventory.concurrency));
  const jobs = items.flatMap((item) =>
    workspace.environmentsOf(item.site, only).map((environment) =>
      limit(async (): Promise<TargetRow> => {
        const row: TargetRow = { site: item.site.name, environment, procedure: item.procedure.name, desired: item.procedure.version };
        const bundle = await workspace.renderBundle(item, environment);
        try {
          const driver = await workspace.driver(item.site, environment);
          const live = await driver.live(item.procedure.name);
          row.plan = planTarget(bundle, live, workspace.recorded(row));
          // where the target can preview a change (Kubernetes server-side dry run), say what it would touch
          if (options.preview && row.plan.action !== 'unchanged' && canDiff(driver)) row.objects = await driver.diffBundle(bundle);
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
