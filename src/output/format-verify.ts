import type { VerifiedTarget, VerifyTargetsResult } from '../rollout/verify.js';
import { formatTable } from './format-table.js';

/** `ozg verify` for people: one row per target, then each changed, missing and extra path. */
export function formatVerifyResult(result: VerifyTargetsResult): string {
  const table = formatTable(
    ['SITE', 'ENV', 'PROCEDURE', 'RELEASE', 'STATE'],
    result.targets.map((t) => [t.site, t.environment, t.procedure, releaseOf(t), describeState(t)]),
  );
  const details = result.targets.flatMap((t) => {
    const v = t.verify;
    if (v?.status !== 'drifted') return [];
    const where = `${t.site}/${t.environment}/${t.procedure}`;
    const fieldsOf = (p: string) => {
      const paths = v.fields?.find((f) => f.object === p)?.paths ?? [];
      return paths.length > 0 ? ` (${paths.join(', ')})` : '';
    };
    return [...v.changed.map((p) => `  changed  ${where}: ${p}${fieldsOf(p)}`), ...v.missing.map((p) => `  missing  ${where}: ${p}`), ...v.extra.map((p) => `  extra    ${where}: ${p}`)];
  });
  const hint = result.drifted > 0 ? ['', '`ozg deploy --reinstall <site>` applies the live release again (test, then prod) and records it.'] : [];
  return [table, ...(details.length > 0 ? ['', ...details] : []), ...hint].join('\n');
}

function releaseOf(t: VerifiedTarget): string {
  return (t.verify && 'release' in t.verify ? t.verify.release : undefined) ?? '-';
}

function describeState(t: VerifiedTarget): string {
  if (t.error !== undefined) return `${t.unreachable ? 'unreachable' : 'not read'}: ${t.error}`;
  const v = t.verify!;
  if (v.status === 'clean') return `clean (${v.checked} checked)`;
  if (v.status === 'unverifiable') return `not verified: ${v.reason}`;
  return `DRIFT: ${v.changed.length} changed, ${v.missing.length} missing, ${v.extra.length} extra`;
}
