import type { SmokeResult } from '../smoke/types.js';

export type ReleaseOutcome =
  | 'applied' // applied and smoke passed
  | 'unchanged' // already at this hash: nothing done
  | 'smoke-failed' // applied, smoke failed (test: gate closed; prod: rolled back)
  | 'apply-failed'
  | 'rolled-back' // target switched back to the previous release (version/hash: now live)
  | 'tested' // smoke checks run against an unchanged live release
  | 'adopted' // found live at the desired hash without a ledger record (a run killed before recording it), smoke passed
  | 'skipped' // not attempted (e.g. test gate failed, so prod skipped)
  | 'hold-released'; // an operator released the hold a rollback put on this target (`hold`: the bundle it refused)

/**
 * The bundle a rollback switched away from, refused for this target until an operator
 * releases it (`ozg unhold`) or the inventory asks for a different bundle. Pinned by hash:
 * any other bundle, even of the same version, is not held.
 */
export interface HeldBundle {
  version: string;
  hash: string;
  /** why: the operator's `--reason`, or the failed smoke checks of an automatic rollback */
  reason: string;
}

/** One line of the ledger. */
export interface LedgerRecord {
  /** unique record id */
  id: string;
  /** ISO time the record was written: shown to people, never used to order records (clocks differ) */
  time: string;
  /**
   * Causal order per target (site, environment, procedure): one more than the highest this
   * ledger held for that target when the record was written. Absent in records of older ozg
   * versions, which are ordered by their place in the file.
   */
  seq?: number;
  /** user@host running ozg */
  actor: string;
  /** id of the ozg run (one `ozg deploy` invocation) */
  run: string;
  site: string;
  environment: 'test' | 'prod';
  procedure: string;
  version: string;
  /** bundle hash; empty when the attempt failed before its bundle reached the target */
  hash: string;
  /** the release id on the target (directory name), when one exists */
  release?: string;
  outcome: ReleaseOutcome;
  smoke: SmokeResult[];
  durationMs: number;
  /** secret-free error summary */
  error?: string;
  /** on `rolled-back`: the bundle now held off this target; on `hold-released`: the hold released */
  hold?: HeldBundle;
}
