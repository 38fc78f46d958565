import pLimit from 'p-limit';
import type { EnvironmentName, ResolvedSetup } from '../inventory/types.js';
import { ClusterError, describeError, ExitCode, RemoteCommandError, UnreachableError } from '../errors.js';
import type { VerifyResult } from '../targets/driver.js';
import type { Workspace } from '../workspace/workspace.js';

/** One target's answer to `ozg verify`; `error` when it could not be read. */
export interface VerifiedTarget {
  site: string;
  environment: EnvironmentName;
  procedure: string;
  /** what the target holds compared with what its live release applied; absent with `error` */
  verify?: VerifyResult;
  error?: string;
  unreachable?: boolean;
}

/** `ozg verify`'s result: per target, clean, drifted (changed/missing/extra) or unverifiable. */
export interface VerifyTargetsResult {
  /** targets drifted or unverifiable */
  drifted: number;
  targets: VerifiedTarget[];
}

/**
 * Reads every selected target, changing nothing: a separate read from status and deploy, so a
 * no-op deploy keeps its cost (one exec per VM host). A target that cannot be read is reported
 * in its row; the others are still verified.
 */
export async function verifyTargets(workspace: Workspace, items: ResolvedSetup[], only?: EnvironmentName): Promise<VerifyTargetsResult> {
  const limit = pLimit(Math.max(1, workspace.inventory.concurrency));
  const jobs = items.flatMap((item) =>
    workspace.environmentsOf(item.site, only).map((environment) =>
      limit(async (): Promise<VerifiedTarget> => {
        const row: VerifiedTarget = { site: item.site.name, environment, procedure: item.procedure.name };
        const bundle = await workspace.renderBundle(item, environment);
        try {
          const driver = await workspace.driver(item.site, environment);
          row.verify = driver.verify
            ? await driver.verify(item.procedure.name, bundle)
            : { status: 'unverifiable', reason: `${driver.description} cannot be verified` };
        } catch (error) {
          if (!(error instanceof UnreachableError || error instanceof RemoteCommandError || error instanceof ClusterError)) throw error;
          row.error = describeError(error);
          row.unreachable = error instanceof UnreachableError;
        }
        return row;
      }),
    ),
  );
  const targets = await Promise.all(jobs);
  return { drifted: targets.filter((t) => t.verify && t.verify.status !== 'clean').length, targets };
}

/** 6 when a target could not be read, else 11 when one is not clean, else 0. */
export function exitCodeForVerify(result: VerifyTargetsResult): number {
  if (result.targets.some((t) => t.error !== undefined)) return ExitCode.unreachable;
  return result.drifted > 0 ? ExitCode.drift : ExitCode.ok;
}
