import { ExitCode } from '../errors.js';
import { checkForeignRecord, escapeControlCharacters, type RecordContext } from './check-record.js';
import { scanLedgerFile, type Ledger, type LedgerDamage } from './ledger.js';
import type { LedgerRecord } from './types.js';

/** `ozg ledger merge`'s result. */
export interface LedgerMergeResult {
  /** absolute path of the ledger merged into */
  ledger: string;
  /** records appended to the target ledger */
  added: number;
  /** records the target already had (same id), or that appeared in several inputs */
  duplicates: number;
  /** torn or altered lines in the inputs, skipped */
  ignored: number;
  /** intact records refused because their content is not something ozg writes for this inventory */
  rejected: number;
  /** the first 100 refused records: file, line and every problem */
  rejections: RejectedRecord[];
  files: { file: string; records: number; ignored: number; rejected: number; damage: LedgerDamage }[];
}

export interface RejectedRecord {
  file: string;
  line: number;
  problems: string[];
}

const MAX_LISTED_REJECTIONS = 100;

/**
 * Merges ledgers into `target`: every record keeps its id, time and seq, a record the target
 * already holds is not added again, and new records are appended in the order of the files
 * and of their lines (never sorted by clock: shards' clocks differ, and "recorded" follows
 * each record's causal `seq`, then file order). Records that fail the checks of
 * `checkForeignRecord` are skipped and listed. Merging the same files twice adds nothing the
 * second time.
 */
export async function mergeLedgers(target: Ledger, files: string[], context: RecordContext): Promise<LedgerMergeResult> {
  const known = new Set<string>();
  await target.scan((record) => known.add(record.id));
  const incoming: LedgerRecord[] = [];
  const result: LedgerMergeResult = { ledger: target.file, added: 0, duplicates: 0, ignored: 0, rejected: 0, rejections: [], files: [] };
  for (const file of files) {
    let records = 0;
    let rejected = 0;
    const damage = await scanLedgerFile(file, (record, line) => {
      const problems = checkForeignRecord(record, context);
      if (problems.length > 0) {
        rejected += 1;
        if (result.rejections.length < MAX_LISTED_REJECTIONS) result.rejections.push({ file, line, problems });
        return;
      }
      records += 1;
      if (known.has(record.id)) {
        result.duplicates += 1;
        return;
      }
      known.add(record.id);
      incoming.push(escapeControlCharacters(record));
    });
    const ignored = damage.tornCount + damage.damagedCount;
    result.files.push({ file, records, ignored, rejected, damage });
    result.ignored += ignored;
    result.rejected += rejected;
  }
  if (incoming.length > 0) await target.append(incoming);
  result.added = incoming.length;
  return result;
}

/** The good records are merged either way; a refused one is invalid input the pipeline must see. */
export function exitCodeForLedgerMerge(result: LedgerMergeResult): number {
  return result.rejected > 0 ? ExitCode.invalidInput : ExitCode.ok;
}
