import type { FleetReport } from '../report/types.js';
import { reportStates } from '../report/types.js';

/** `ozg report` without --html, or after writing the page: one line of counts per state. */
export function formatReportSummary(report: FleetReport, file?: string): string {
  const counts = reportStates.filter((state) => report.counts[state] > 0).map((state) => `${report.counts[state]} ${state}`);
  const head = file ? `wrote ${file}: ` : '';
  const source = report.live ? 'live markers and ledger' : 'ledger only (--offline)';
  return `${head}${report.sites.length} sites × ${report.procedures.length} procedures (${source}): ${counts.join(', ') || 'nothing selected'}`;
}
