import type { UnholdResult } from '../rollout/unhold.js';
import { formatHold } from './format-plan.js';

/** `ozg unhold` for people. */
export function formatUnholdResult(result: UnholdResult): string {
  const target = `${result.site}/${result.environment}/${result.procedure}`;
  if (result.status === 'not-held') return `${target}: not held (nothing to release)`;
  return `${target}: released (was ${formatHold(result.released)}); the next deploy brings ${result.released.version} again`;
}
