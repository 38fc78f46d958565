/** The cross-field rules, run after the schema check over every part the schema accepted. */
import type { Problem } from '../errors.js';
import { checkDefaults, checkSetup } from './check-setups.js';
import { checkSiteDataCenter } from './check-sites.js';
import { checkDataCenterTargets, checkTargetCollisions } from './check-targets.js';
import type { CheckContext } from './check-context.js';
import { isRecord } from './merge-values.js';
import type { DataCenter, ResolvedSetup, Site } from './types.js';

export interface CheckInventoryOptions {
  /** false when the catalogue could not be read completely: procedure rules would only add noise */
  checkSetups: boolean;
  /** procedure names whose central defaults the schema rejected; their setups are skipped */
  brokenDefaults: ReadonlySet<string>;
}

export interface CheckInventoryResult {
  problems: Problem[];
  /** every setup that passed, in inventory order */
  resolved: ResolvedSetup[];
}

export async function checkInventory(context: CheckContext, options: CheckInventoryOptions): Promise<CheckInventoryResult> {
  const resolved: ResolvedSetup[] = [];
  for (const dataCenter of context.inventory.dataCenters.values()) checkDataCenterTargets(context, dataCenter);
  if (options.checkSetups) {
    const defaults = context.raw.defaults?.procedures;
    for (const name of isRecord(defaults) ? Object.keys(defaults) : []) {
      if (!options.brokenDefaults.has(name)) checkDefaults(context, name);
    }
  }
  const placed: { site: Site; dataCenter: DataCenter }[] = [];
  for (const site of context.inventory.sites) {
    const dataCenter = checkSiteDataCenter(context, site);
    if (dataCenter) placed.push({ site, dataCenter });
    if (!options.checkSetups) continue;
    for (const setup of site.setups) {
      if (options.brokenDefaults.has(setup.procedure)) continue;
      const item = await checkSetup(context, site, setup, dataCenter);
      if (item) resolved.push(item);
    }
  }
  checkTargetCollisions(context, placed);
  return { problems: context.problems, resolved };
}
