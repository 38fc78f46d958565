import type { TestResult } from '../rollout/test-live.js';
import { formatTable } from './format-table.js';

/** `ozg test` for people: one row per target, with the checks that failed. */
export function formatTestResult(result: TestResult): string {
  return formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'VERSION', 'RESULT', 'DETAIL'],
    result.targets.map((t) => [
      t.site,
      t.environment,
      t.procedure,
      t.version ?? '-',
      t.status,
      t.error ?? t.smoke.filter((s) => !s.passed).map((s) => `${s.name}: ${s.detail}`).join('; '),
    ]),
  );
}
