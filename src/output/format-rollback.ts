import type { TargetRollbackResult } from '../rollout/rollback.js';

/** `ozg rollback` for people: what is live now and how its smoke checks went, or why nothing was rolled back. */
export function formatRollbackResult(result: TargetRollbackResult): string {
  const target = `${result.site}/${result.environment}/${result.procedure}`;
  if (result.status !== 'rolled-back') return `${target}: nothing to roll back: ${result.reason}`;
  const lines = [`${target}: rolled back to ${result.live.version} (release ${result.live.release})`];
  const smoke = result.smoke ?? [];
  const failed = smoke.filter((s) => !s.passed);
  if (result.smokeNotRun) lines.push(`  smoke: not run: ${result.smokeNotRun}`);
  else if (!result.smoke) {
    // a result without smoke results (none run): nothing to say
  } else if (failed.length === 0) lines.push(`  smoke: ${smoke.length}/${smoke.length} passed`);
  else lines.push(`  smoke: FAILED ${failed.map((s) => `${s.name}: ${s.detail}`).join('; ')}`);
  if (result.hold) {
    lines.push(`  held: deploy skips ${result.hold.version} here until \`ozg unhold ${result.site} -p ${result.procedure} -e ${result.environment}\` or a new desired version`);
  }
  return lines.join('\n');
}
