/**
 * The cross-field rules, run after the schema check over every part the schema accepted:
 * the inventory-wide ones (data centers, central defaults, targets colliding across sites)
 * here, each site's own in checkSite.
 */
import type { Problem } from '../errors.js';
import { startCheck } from './check-context.js';
import type { CheckInput } from './check-context.js';
import { checkSite } from './check-site.js';
import { checkDefaults } from './check-setups.js';
import { checkDataCenterTargets, checkTargetCollisions } from './check-targets.js';
import { checkDataCenterFiles } from './check-files.js';
import { isRecord } from './merge-values.js';
import type { ResolvedSetup } from './types.js';

export interface CheckInventoryResult {
  problems: Problem[];
  /** every setup that passed, in inventory order */
  resolved: ResolvedSetup[];
}

/** Every rule over every site. */
export async function checkInventory(input: CheckInput): Promise<CheckInventoryResult> {
  const problems = checkInventoryWide(input);
  if (input.checkFiles) {
    const context = startCheck(input);
    for (const dataCenter of input.inventory.dataCenters.values()) await checkDataCenterFiles(context, dataCenter);
    problems.push(...context.problems);
  }
  const resolved: ResolvedSetup[] = [];
  for (const site of input.inventory.sites) {
    const checked = await checkSite(input, site);
    problems.push(...checked.problems);
    resolved.push(...checked.resolved);
  }
  return { problems, resolved };
}

/** The rules that are about no single site: data centers, central defaults, and targets two sites share. */
export function checkInventoryWide(input: CheckInput): Problem[] {
  const context = startCheck(input);
  for (const dataCenter of input.inventory.dataCenters.values()) checkDataCenterTargets(context, dataCenter);
  if (input.checkSetups) {
    const defaults = input.raw.defaults?.procedures;
    for (const name of isRecord(defaults) ? Object.keys(defaults) : []) {
      if (!input.brokenDefaults.has(name)) checkDefaults(context, name);
    }
  }
  checkTargetCollisions(context);
  return context.problems;
}
