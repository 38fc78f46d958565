/**
 * One target's state in the fleet report, from what the ledger, the inventory and (unless
 * offline) the live marker say. The rules, first match wins (README, `ozg report`):
 *
 * 1. failed: the newest record of the target (causal order) is `apply-failed` or
 *    `smoke-failed`, or a `rolled-back` that holds nothing (a rollback that left no hold).
 * 2. unreachable: live mode, and the marker could not be read.
 * 3. drift: live mode, and the marker differs from the release the ledger last recorded
 *    (or is gone although one was recorded).
 * 4. held: a rollback's hold is active and refuses exactly the desired bundle.
 * 5. not-deployed: nothing live (offline: nothing recorded).
 * 6. pending: the desired bundle differs from the live one (offline: the recorded one).
 * 7. up-to-date.
 *
 * A failed smoke beats everything because it is the thing to act on first; a newer
 * successful attempt (applied, adopted, tested, unchanged) clears it.
 */
import type { LedgerRecord } from '../ledger/types.js';
import { reportStates, type ReportState } from './types.js';

export interface TargetFacts {
  /** the version the inventory asks for */
  desired: string;
  /** the desired bundle's hash; absent when it does not build here (then versions are compared) */
  desiredHash?: string;
  /** the marker read (null: none on the target); absent when not read (offline, unreachable); no hash when the desired bundle did not build */
  live?: { version: string; hash?: string; incomplete?: boolean } | null;
  /** the release the ledger last recorded as live */
  recorded?: { version: string; hash: string };
  /** the target's newest ledger record of any outcome */
  newest?: LedgerRecord;
  /** the rollback record whose hold is active on the target */
  hold?: LedgerRecord;
  /** why the marker could not be read */
  unreachable?: string;
  /** why the desired bundle could not be built here */
  inputError?: string;
}

export interface TargetVerdict {
  state: ReportState;
  /** one line why; may carry text from targets: the caller redacts it */
  reason?: string;
}

const FAILED_OUTCOMES = new Set<LedgerRecord['outcome']>(['apply-failed', 'smoke-failed']);

export function decideTargetState(facts: TargetFacts, liveMode: boolean): TargetVerdict {
  const { newest, hold } = facts;
  if (newest && (FAILED_OUTCOMES.has(newest.outcome) || (newest.outcome === 'rolled-back' && !hold))) {
    return { state: 'failed', reason: describeFailure(newest) };
  }
  if (liveMode && facts.unreachable !== undefined) return { state: 'unreachable', reason: facts.unreachable };
  if (liveMode && facts.live !== undefined && facts.recorded && (facts.live === null || (facts.live.hash !== undefined && facts.live.hash !== facts.recorded.hash))) {
    const seen = facts.live === null ? 'no release' : facts.live.version;
    return { state: 'drift', reason: `live ${seen}, recorded ${facts.recorded.version}` };
  }
  if (hold?.hold && (facts.desiredHash === undefined || hold.hold.hash === facts.desiredHash)) {
    return { state: 'held', reason: `${hold.hold.version} held by ${hold.actor}: ${hold.hold.reason}` };
  }
  const current = liveMode ? facts.live : facts.recorded;
  const note = facts.inputError ? { reason: facts.inputError } : {};
  if (!current) return { state: 'not-deployed', ...note };
  const incomplete = 'incomplete' in current && current.incomplete === true;
  const same = facts.desiredHash !== undefined && current.hash !== undefined ? current.hash === facts.desiredHash && !incomplete : current.version === facts.desired;
  return { state: same ? 'up-to-date' : 'pending', ...note };
}

/** The record's error, else its failed checks (name: detail), else its outcome. */
export function describeFailure(record: LedgerRecord): string {
  if (record.error) return record.error;
  const failed = record.smoke.filter((check) => !check.passed).map((check) => `${check.name}: ${check.detail}`);
  if (failed.length > 0) return `smoke failed: ${failed.join('; ')}`;
  return record.outcome === 'rolled-back' ? `rolled back to ${record.version}` : record.outcome;
}

/** The worst of several states (reportStates is ordered worst first); `fallback` for none. */
export function worstState(states: Iterable<ReportState>, fallback: ReportState = 'not-deployed'): ReportState {
  let worst = -1;
  for (const state of states) {
    const rank = reportStates.indexOf(state);
    if (worst === -1 || rank < worst) worst = rank;
  }
  return worst === -1 ? fallback : reportStates[worst]!;
}
