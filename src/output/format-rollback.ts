import type { TargetRollbackResult } from '../rollout/rollback.js';

/** `ozg rollback` for people: what is live now, or why nothing was rolled back. */
export function formatRollbackResult(result: TargetRollbackResult): string {
  const target = `${result.site}/${result.environment}/${result.procedure}`;
  return result.status === 'rolled-back'
    ? `${target}: rolled back to ${result.live.version} (release ${result.live.release})`
    : `${target}: nothing to roll back: ${result.reason}`;
}
