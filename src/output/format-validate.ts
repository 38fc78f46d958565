import type { ValidateResult } from '../rollout/render-all.js';

/** `ozg validate` for people: one line. */
export function formatValidateResult(result: ValidateResult): string {
  return `${result.inventory}: valid (${result.sites} sites, ${result.procedures} procedures, ${result.bundles} bundles rendered)`;
}
