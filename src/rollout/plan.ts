import type { Bundle } from '../procedure/types.js';
import type { LiveRelease } from '../targets/driver.js';
import type { LedgerRecord } from '../ledger/types.js';
import semver from 'semver';

/** `reinstall`: the live release is the desired one, applied again on request (`deploy --reinstall`) */
export type PlanAction = 'unchanged' | 'install' | 'upgrade' | 'downgrade' | 'change' | 'reinstall';

/** What a deploy would do to one target, and whether the target drifted from the ledger. */
export interface TargetPlan {
  action: PlanAction;
  desired: { version: string; hash: string };
  live?: { version: string; hash: string; release: string };
  recorded?: { version: string; hash: string; release?: string };
  /**
   * The live marker disagrees with the last release the ledger recorded for this target:
   * someone changed it outside this ledger (another checkout, by hand), or it was wiped.
   */
  drift: boolean;
}

export function planTarget(bundle: Bundle, live: LiveRelease | undefined, recorded: LedgerRecord | undefined): TargetPlan {
  const desired = { version: bundle.version, hash: bundle.hash };
  const plan: TargetPlan = {
    action: chooseAction(bundle, live),
    desired,
    drift: detectDrift(live, recorded),
  };
  if (live) plan.live = { version: live.version, hash: live.hash, release: live.release };
  if (recorded) plan.recorded = { version: recorded.version, hash: recorded.hash, release: recorded.release };
  return plan;
}

/**
 * The target runs exactly the desired bundle, yet the ledger's last live release says
 * otherwise: a run was killed after the switch and before its record (or another checkout
 * deployed the same content). Left alone, status would show drift forever and every deploy
 * would call it unchanged; once its smoke checks pass it is recorded as adopted.
 */
export function isUnrecordedRelease(plan: TargetPlan): boolean {
  return plan.action === 'unchanged' && plan.drift;
}

function chooseAction(bundle: Bundle, live: LiveRelease | undefined): PlanAction {
  if (!live) return 'install';
  // a change that started and never finished may have left parts behind: apply again
  if (live.hash === bundle.hash && !live.incomplete) return 'unchanged';
  if (semver.valid(live.version) && semver.valid(bundle.version)) {
    if (semver.gt(bundle.version, live.version)) return 'upgrade';
    if (semver.lt(bundle.version, live.version)) return 'downgrade';
  }
  return 'change';
}

function detectDrift(live: LiveRelease | undefined, recorded: LedgerRecord | undefined): boolean {
  if (!recorded) return false; // nothing recorded here: a fresh checkout, live is the truth
  if (!live) return true; // recorded as deployed, but the marker is gone
  return live.hash !== recorded.hash || live.incomplete !== undefined;
}
