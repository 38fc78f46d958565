/** Which catalogue version a setup gets: exact versions as written, ranges to the newest match. */
import semver from 'semver';
import { InternalError } from '../errors.js';
import type { Catalogue } from '../procedure/types.js';
import type { Inventory, ResolvedSetup } from './types.js';

/**
 * The version `wanted` selects from `available`: itself if exact and present, else the
 * newest version satisfying it as a semver range; undefined when nothing matches.
 */
export function resolveVersion(available: readonly string[], wanted: string): string | undefined {
  if (semver.valid(wanted) !== null) return available.find((version) => semver.eq(version, wanted));
  if (semver.validRange(wanted) === null) return undefined;
  return semver.maxSatisfying([...available], wanted) ?? undefined;
}

/** Why `wanted` resolved to nothing, listing what the catalogue offers. */
export function describeUnresolvedVersion(procedure: string, wanted: string, available: readonly string[]): string {
  const offered = available.length > 0 ? `available: ${available.join(', ')}` : 'the catalogue has no versions of it';
  if (semver.valid(wanted) !== null) return `version ${wanted} of ${procedure} is not in the catalogue (${offered})`;
  return `no version of ${procedure} matches ${wanted} (${offered})`;
}

/**
 * Every (site, setup, procedure) of an inventory that loadProject already validated against
 * this catalogue, in inventory order. For anything else use loadProject, which reports
 * problems with positions.
 */
export function resolveSetups(inventory: Inventory, catalogue: Catalogue): ResolvedSetup[] {
  const resolved: ResolvedSetup[] = [];
  for (const site of inventory.sites) {
    for (const setup of site.setups) {
      const version = resolveVersion(catalogue.versions(setup.procedure), setup.version);
      const procedure = version === undefined ? undefined : catalogue.get(setup.procedure, version);
      if (!procedure) {
        throw new InternalError(`${site.name}: ${describeUnresolvedVersion(setup.procedure, setup.version, catalogue.versions(setup.procedure))}`, {
          hint: 'load the project with loadProject, which checks this with source positions',
        });
      }
      resolved.push({ site, setup, procedure, values: setup.values });
    }
  }
  return resolved;
}
