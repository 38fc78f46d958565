import { readLedgerFile, type Ledger } from './ledger.js';
import type { LedgerRecord } from './types.js';

export interface MergeResult {
  /** records appended to the target ledger */
  added: number;
  /** records the target already had (same id), or that appeared in several inputs */
  duplicates: number;
  /** torn or altered lines in the inputs, skipped */
  ignored: number;
  files: { file: string; records: number; ignored: number }[];
}

/**
 * Merges ledgers into `target`: every record keeps its id and time, a record the target
 * already holds is not added again, and new records are appended in time order. Merging
 * the same files twice adds nothing the second time.
 */
export async function mergeLedgers(target: Ledger, files: string[]): Promise<MergeResult> {
  const known = new Set((await target.read()).records.map((r) => r.id));
  const incoming: LedgerRecord[] = [];
  const result: MergeResult = { added: 0, duplicates: 0, ignored: 0, files: [] };
  for (const file of files) {
    const { records, ignored } = await readLedgerFile(file);
    result.files.push({ file, records: records.length, ignored });
    result.ignored += ignored;
    for (const record of records) {
      if (known.has(record.id)) {
        result.duplicates += 1;
        continue;
      }
      known.add(record.id);
      incoming.push(record);
    }
  }
  incoming.sort((a, b) => a.time.localeCompare(b.time));
  if (incoming.length > 0) await target.append(incoming);
  result.added = incoming.length;
  return result;
}
