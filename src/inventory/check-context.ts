/** What the cross-field rules share: the parsed file, its data, the built inventory and catalogue. */
import type { Problem } from '../errors.js';
import { createProblem } from '../input/yaml-source.js';
import type { Anchor, JsonPath, YamlSource } from '../input/yaml-source.js';
import type { Catalogue, Procedure } from '../procedure/types.js';
import { isRecord } from './merge-values.js';
import type { RawInventory, RawSetup } from './raw-types.js';
import type { SecretDeps } from './secrets.js';
import type { Inventory } from './types.js';

/** The loaded project the rules read; nothing in it changes while they run. */
export interface CheckInput {
  source: YamlSource;
  raw: RawInventory;
  inventory: Inventory;
  catalogue: Catalogue;
  /** procedure → versions that exist but have their own problems (see readCatalogue) */
  brokenVersions: Map<string, string[]>;
  /** `name@version` → a broken version still fit to check a site's values against */
  brokenForValues?: Map<string, Procedure>;
  /** when given, every secret reference must resolve; the values are read and dropped */
  secretDeps?: SecretDeps;
  /** false when the catalogue could not be read completely: procedure rules would only add noise */
  checkSetups: boolean;
  /** procedure names whose central defaults the schema rejected; their setups are skipped */
  brokenDefaults: ReadonlySet<string>;
  /** check that the files data centers name can be read (validate only) */
  checkFiles?: boolean;
}

/** One check's input and the problems it found so far. */
export interface CheckContext extends CheckInput {
  problems: Problem[];
  /** `name@version` of every procedure version a setup resolved to (broken ones too) */
  versionsUsed: Set<string>;
}

/** A fresh context: each check collects its own problems, so a site's problems are its own. */
export function startCheck(input: CheckInput): CheckContext {
  return { ...input, problems: [], versionsUsed: new Set() };
}

/** Record a problem at `path` (or at `anchor`) of sites.yaml. */
export function report(context: CheckContext, path: JsonPath, message: string, anchor?: Anchor): void {
  context.problems.push(createProblem(context.source, path, message, anchor));
}

export function buildSetupPath(site: string, procedure: string): JsonPath {
  return ['sites', site, 'procedures', procedure];
}

export function buildDefaultsPath(procedure: string): JsonPath {
  return ['defaults', 'procedures', procedure];
}

/** The central defaults of `procedure` as written, if any. */
export function findRawDefaults(input: CheckInput, procedure: string): RawSetup | undefined {
  const procedures = input.raw.defaults?.procedures;
  return isRecord(procedures) ? procedures[procedure] : undefined;
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
