/** What the cross-field rules share: the parsed file, its data, the built inventory and catalogue. */
import type { Problem } from '../errors.js';
import { createProblem } from '../input/yaml-source.js';
import type { Anchor, JsonPath, YamlSource } from '../input/yaml-source.js';
import type { Catalogue } from '../procedure/types.js';
import { isRecord } from './merge-values.js';
import type { RawInventory, RawSetup, RawSite } from './raw-types.js';
import type { SecretDeps } from './secrets.js';
import type { Inventory } from './types.js';

export interface CheckContext {
  source: YamlSource;
  raw: RawInventory;
  inventory: Inventory;
  catalogue: Catalogue;
  /** procedure → versions that exist but have their own problems (see readCatalogue) */
  brokenVersions: Map<string, string[]>;
  /** when given, every secret reference must resolve; the values are read and dropped */
  secretDeps?: SecretDeps;
  problems: Problem[];
}

/** Record a problem at `path` (or at `anchor`) of sites.yaml. */
export function report(context: CheckContext, path: JsonPath, message: string, anchor?: Anchor): void {
  context.problems.push(createProblem(context.source, path, message, anchor));
}

export function findRawSite(context: CheckContext, site: string): RawSite {
  return context.raw.sites[site];
}

export function findRawSetup(context: CheckContext, site: string, procedure: string): RawSetup {
  return findRawSite(context, site).procedures?.[procedure] ?? {};
}

export function findRawDefaults(context: CheckContext, procedure: string): RawSetup | undefined {
  const procedures = context.raw.defaults?.procedures;
  return isRecord(procedures) ? procedures[procedure] : undefined;
}

export function buildSetupPath(site: string, procedure: string): JsonPath {
  return ['sites', site, 'procedures', procedure];
}

export function buildDefaultsPath(procedure: string): JsonPath {
  return ['defaults', 'procedures', procedure];
}

/** True when `data` has something at `path` (used to find whether a value came from the site or the defaults). */
export function hasPath(data: unknown, path: JsonPath): boolean {
  let current = data;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === 'number') current = current[segment];
    else if (isRecord(current) && Object.hasOwn(current, String(segment))) current = current[String(segment)];
    else return false;
  }
  return true;
}
