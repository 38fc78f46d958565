/**
 * The clone as data: from one site's setup of a procedure, the setup another site gets.
 * Copied: version, values, user connection and process transfers, as the source site wrote
 * them (what it inherits from central defaults the target inherits too). Never copied:
 * values the procedure marks `x-ozg-site-specific` and secret references.
 */
import { OZG_KEYWORDS } from '../input/schema-check.js';
import type { JsonPath } from '../input/yaml-source.js';
import { isRecord } from '../inventory/merge-values.js';
import { formatPlaceholder, isPlaceholder } from '../inventory/placeholders.js';
import type { RawSecretRef, RawSetup } from '../inventory/raw-types.js';
import type { Procedure } from '../procedure/types.js';
import { isSameData } from './same-data.js';

export interface PlanCloneInput {
  procedure: Pick<Procedure, 'name' | 'valuesSchema' | 'secrets'>;
  /** the source site's own setup, as written (without central defaults) */
  from: { site: string; setup: RawSetup };
  /** the target site's facts, and its own setup of this procedure if it has one (it is replaced) */
  to: { site: string; facts: Record<string, unknown>; setup?: RawSetup };
  /** the procedure's central defaults, which source and target share */
  defaults?: RawSetup;
}

/** Where the target's value of one site-specific field comes from. */
export type SiteValueSource = 'kept' | 'fact' | 'placeholder';

export interface PlannedSiteValue {
  /** dotted path inside `values`: `municipalityKey`, `smtp.host` */
  field: string;
  /** path inside the setup: `['values', 'smtp', 'host']` */
  path: JsonPath;
  /** kept: the target's own value from the setup being replaced; fact: from `facts`; placeholder: still to fill in */
  source: SiteValueSource;
  /** the facts entry used (source `fact`) */
  fact?: string;
}

export interface PlannedSecret {
  secret: string;
  ref: RawSecretRef;
  /** path inside the setup: `['secrets', name]` */
  path: JsonPath;
  /** kept: the target's own reference from the setup being replaced; new: a variable named for the target */
  source: 'kept' | 'new';
}

export interface ClonePlan {
  procedure: string;
  /** the target's own setup, as it will be written */
  setup: RawSetup;
  siteValues: PlannedSiteValue[];
  /** the references the target's setup names (secrets given by central defaults are not among them) */
  secrets: PlannedSecret[];
}

export function planClone(input: PlanCloneInput): ClonePlan {
  const source = input.from.setup;
  const existing = input.to.setup;
  const values = structuredClone(source.values ?? {});
  const siteValues: PlannedSiteValue[] = [];
  for (const field of listSiteSpecificFields(input.procedure.valuesSchema)) {
    const own = readPath(existing?.values, field.path);
    const keep = own !== undefined && !isPlaceholder(own);
    const wanted = hasPath(source.values, field.path) || keep || (field.required && !hasPath(input.defaults?.values, field.path));
    if (!wanted) continue;
    const name = field.path.join('.');
    const fact = readPath(input.to.facts, field.fact.split('.'));
    const hasFact = fact !== undefined && fact !== null;
    // a value an earlier clone took from the facts is reported as coming from them again
    const from: SiteValueSource = keep && !(hasFact && isSameData(own, fact)) ? 'kept' : hasFact ? 'fact' : 'placeholder';
    const value = from === 'kept' ? own : from === 'fact' ? fact : formatPlaceholder(name);
    siteValues.push({ field: name, path: ['values', ...field.path], source: from, ...(from === 'fact' ? { fact: field.fact } : {}) });
    writePath(values, field.path, structuredClone(value));
  }

  const secrets: PlannedSecret[] = [];
  for (const name of input.procedure.secrets) {
    if (input.defaults?.secrets?.[name] !== undefined) continue; // central: the target inherits it
    const kept = existing?.secrets?.[name];
    const ref = kept ? structuredClone(kept) : { env: deriveSecretVariable(input.to.site, name) };
    secrets.push({ secret: name, ref, path: ['secrets', name], source: kept ? 'kept' : 'new' });
  }

  const setup: RawSetup = {};
  if (source.version !== undefined) setup.version = source.version;
  if (source.values !== undefined || Object.keys(values).length > 0) setup.values = values;
  if (secrets.length > 0) setup.secrets = Object.fromEntries(secrets.map((secret) => [secret.secret, secret.ref]));
  if (source.userConnection !== undefined) setup.userConnection = structuredClone(source.userConnection);
  if (source.processTransfers !== undefined) setup.processTransfers = structuredClone(source.processTransfers);
  return { procedure: input.procedure.name, setup, siteValues, secrets };
}

/** A value the procedure marks as belonging to one site. */
export interface SiteSpecificField {
  /** path inside `values` */
  path: string[];
  /** dotted path into the site's `facts` that fills it (`x-ozg-fact`, else the field's own name) */
  fact: string;
  /** required at every level of the schema: the target needs it even when the source inherits it */
  required: boolean;
}

/**
 * The site-specific fields of a values schema, following `properties` into nested objects
 * (like the renderer's defaults: no `$ref`, `allOf` or array items).
 */
export function listSiteSpecificFields(schema: unknown, base: string[] = [], required = true): SiteSpecificField[] {
  if (!isRecord(schema) || !isRecord(schema.properties)) return [];
  const requiredHere = Array.isArray(schema.required) ? schema.required : [];
  const fields: SiteSpecificField[] = [];
  for (const [name, sub] of Object.entries(schema.properties)) {
    if (!isRecord(sub)) continue;
    const path = [...base, name];
    const isRequired = required && requiredHere.includes(name);
    if (sub[OZG_KEYWORDS.siteSpecific] === true) {
      const fact = typeof sub[OZG_KEYWORDS.fact] === 'string' ? (sub[OZG_KEYWORDS.fact] as string) : name;
      fields.push({ path, fact, required: isRequired });
    } else {
      fields.push(...listSiteSpecificFields(sub, path, isRequired));
    }
  }
  return fields;
}

/** `luebeck` + `smtpPassword` → `LUEBECK_SMTP_PASSWORD`; `amt-hohner-harde` → `AMT_HOHNER_HARDE_…` */
export function deriveSecretVariable(site: string, secret: string): string {
  const words = `${site}_${secret.replace(/([a-z0-9])([A-Z])/g, '$1_$2')}`;
  const name = words.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
  // a site name may start with a digit; a variable name may not
  return /^[0-9]/.test(name) ? `SITE_${name}` : name;
}

function readPath(data: unknown, path: readonly string[]): unknown {
  let current = data;
  for (const segment of path) {
    if (!isRecord(current) || !Object.hasOwn(current, segment)) return undefined;
    current = current[segment];
  }
  return current;
}

function hasPath(data: unknown, path: readonly string[]): boolean {
  return readPath(data, path) !== undefined;
}

/** Sets the value at `path`, creating mappings on the way; an existing key keeps its place. */
function writePath(data: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let current = data;
  path.forEach((segment, index) => {
    const last = index === path.length - 1;
    const next = last ? value : isRecord(current[segment]) ? current[segment] : {};
    // defineProperty, not assignment: a field called __proto__ must stay plain data
    Object.defineProperty(current, segment, { value: next, enumerable: true, writable: true, configurable: true });
    if (!last) current = next as Record<string, unknown>;
  });
}
