import type { EnvironmentName } from '../inventory/types.js';
import type { HeldBundle } from '../ledger/types.js';
import { UsageError } from '../errors.js';
import { describeHold, toHoldReason, type HoldInfo } from '../ledger/hold.js';
import type { Workspace } from '../workspace/workspace.js';

export interface UnholdRequest {
  site: string;
  procedure: string;
  environment: EnvironmentName;
  reason?: string;
}

/** `ozg unhold`'s result: the hold released (as it was recorded), or that there was none. */
export type UnholdResult = { site: string; environment: EnvironmentName; procedure: string } & ({ status: 'released'; released: HoldInfo } | { status: 'not-held' });

/**
 * Releases a rollback hold by appending a `hold-released` record: the ledger stays
 * append-only, and a merged shard ledger carries the release as it carries the hold.
 * Nothing on the target changes; the next deploy brings the desired bundle again.
 */
export async function releaseHold(workspace: Workspace, request: UnholdRequest): Promise<UnholdResult> {
  const [item] = workspace.selectItems({ sites: [request.site], procedure: [request.procedure] });
  if (!item) throw new UsageError(`site ${request.site} has no setup for procedure ${request.procedure}`);
  if (!workspace.environmentsOf(item.site).includes(request.environment)) {
    throw new UsageError(`site ${request.site} has no ${request.environment} environment`);
  }
  const target = { site: request.site, environment: request.environment, procedure: request.procedure };
  const holding = workspace.holding(target);
  if (!holding?.hold) return { ...target, status: 'not-held' };
  const hold: HeldBundle = { ...holding.hold, reason: toHoldReason(request.reason ?? holding.hold.reason) };
  await workspace.pipelineDeps().record({ ...target, version: hold.version, hash: hold.hash, outcome: 'hold-released', smoke: [], durationMs: 0, hold });
  return { ...target, status: 'released', released: describeHold(holding) };
}
