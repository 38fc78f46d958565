/**
 * Rollback holds. A rollback (by an operator, or the pipeline's after a prod smoke failure)
 * writes its `rolled-back` record with `hold`: the bundle it switched away from. Until a later
 * record of the same target clears it, a deploy that would bring exactly that bundle back
 * skips the target instead. The hold lives only in the ledger (append-only), so merged shard
 * ledgers carry it like any other record, and it is ordered causally (seq), never by clocks.
 */
import type { LedgerRecord } from './types.js';

/** Records that decide whether a target is held: the latest one (by seq) wins. */
const DECIDING = new Set<LedgerRecord['outcome']>(['applied', 'adopted', 'rolled-back', 'hold-released']);

/** Latest deciding record per target; the active holds are the ones whose latest is a holding rollback. */
export class HoldTracker {
  readonly active = new Map<string, LedgerRecord>();
  private readonly decidedAt = new Map<string, number>();

  add(key: string, seq: number, record: LedgerRecord): void {
    if (!DECIDING.has(record.outcome)) return;
    const best = this.decidedAt.get(key);
    if (best !== undefined && seq < best) return;
    this.decidedAt.set(key, seq);
    updateHolds(this.active, key, record);
  }
}

/** A record just written (always the latest of its target) applied to the active holds. */
export function updateHolds(active: Map<string, LedgerRecord>, key: string, record: LedgerRecord): void {
  if (!DECIDING.has(record.outcome)) return;
  // an apply or adopt of any bundle, an unholding rollback or a release ends the hold
  if (record.outcome === 'rolled-back' && record.hold) active.set(key, record);
  else active.delete(key);
}

/** A hold as plan, status and deploy show it: who put it, when, why, and what it refuses. */
export interface HoldInfo {
  /** the held (refused) bundle */
  version: string;
  hash: string;
  reason: string;
  /** the ledger actor of the rollback (user@host, or the CI runner's) */
  by: string;
  /** ISO time of the rollback record */
  since: string;
  /** the version the target was rolled back to */
  at: string;
  run: string;
}

export function describeHold(record: LedgerRecord): HoldInfo {
  const hold = record.hold!;
  return { version: hold.version, hash: hold.hash, reason: hold.reason, by: record.actor, since: record.time, at: record.version, run: record.run };
}

/**
 * The hold that stops a deploy of `desiredHash`, if any: only the held bundle itself is
 * refused; a different desired bundle (a new version, or changed values) is a decision to
 * move on and goes through.
 */
export function holdBlocking(record: LedgerRecord | undefined, desiredHash: string): HoldInfo | undefined {
  if (!record?.hold || record.hold.hash !== desiredHash) return undefined;
  return describeHold(record);
}

/** One line of free text, fit for a ledger field: control characters become spaces. */
export function toHoldReason(text: string): string {
  const line = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return (line || 'no reason given').slice(0, 2000);
}
