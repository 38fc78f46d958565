import path from 'node:path';
import type { LedgerMergeResult } from '../ledger/merge.js';
import { describeLedgerDamage } from '../ledger/ledger.js';

/** `ozg ledger merge` for people: one line per input file, then what was added. Paths relative to `cwd`. */
export function formatLedgerMergeResult(result: LedgerMergeResult, cwd: string): string {
  const show = showPath(cwd);
  return [
    ...result.files.map(
      (f) => `${show(f.file)}: ${f.records} record(s)${f.ignored ? `, ${f.ignored} unreadable line(s) skipped` : ''}${f.rejected ? `, ${f.rejected} record(s) refused` : ''}`,
    ),
    `${result.added} record(s) added to ${path.relative(cwd, result.ledger)}, ${result.duplicates} already present`,
  ].join('\n');
}

/** What a merge skipped or refused, one warning each: damaged lines, refused records (the first 100), how many more. */
export function describeLedgerMergeWarnings(result: LedgerMergeResult, cwd: string): string[] {
  const show = showPath(cwd);
  const warnings = result.files.flatMap((f) => describeLedgerDamage(show(f.file), f.damage));
  for (const r of result.rejections) warnings.push(`${show(r.file)}:${r.line}: record refused, not merged: ${r.problems.join('; ')}`);
  if (result.rejected > result.rejections.length) warnings.push(`${result.rejected - result.rejections.length} more record(s) refused`);
  return warnings;
}

function showPath(cwd: string): (file: string) => string {
  return (file) => path.relative(cwd, file) || file;
}
