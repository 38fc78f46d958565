import type { HistoryResult } from '../ledger/history.js';
import { formatTable } from './format-table.js';

/** `ozg history` for people: one row per ledger record, oldest first. */
export function formatHistoryResult(result: HistoryResult): string {
  if (result.records.length === 0) return 'No records yet.';
  return formatTable(
    ['TIME', 'SITE', 'ENV', 'PROCEDURE', 'VERSION', 'OUTCOME', 'RELEASE', 'SMOKE', 'BY'],
    result.records.map((r) => [
      r.time.replace(/\.\d+Z$/, 'Z'),
      r.site,
      r.environment,
      r.procedure,
      r.version,
      r.hold ? `${r.outcome} (${r.outcome === 'rolled-back' ? 'holds' : 'of'} ${r.hold.version}: ${r.hold.reason})` : r.outcome,
      r.release ?? '-',
      r.smoke.length ? `${r.smoke.filter((s) => s.passed).length}/${r.smoke.length} passed` : '-',
      r.actor,
    ]),
  );
}
