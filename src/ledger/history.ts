import type { HistoryOptions, Ledger } from './ledger.js';
import type { LedgerRecord } from './types.js';

/** `ozg history`'s result: matching ledger records, oldest first. */
export interface HistoryResult {
  records: LedgerRecord[];
}

export async function readHistory(ledger: Ledger, options: HistoryOptions): Promise<HistoryResult> {
  // the ledger answers newest first; people and pipelines read a history oldest first
  const newest = await ledger.history(options);
  return { records: [...newest].reverse() };
}
