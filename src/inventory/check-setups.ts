/**
 * Setup rules: the procedure exists, the version resolves, the procedure can render for the
 * site's data center, the merged values satisfy its schema, and its secrets are referenced
 * and resolvable.
 */
import semver from 'semver';
import { explainSchemaErrors } from '../input/schema-check.js';
import { formatSuggestion } from '../input/suggest.js';
import { formatPath } from '../input/yaml-source.js';
import type { JsonPath } from '../input/yaml-source.js';
import { checkValues } from '../procedure/check-values.js';
import type { Catalogue, Procedure } from '../procedure/types.js';
import { buildDefaultsPath, buildSetupPath, findRawDefaults, hasPath, report } from './check-context.js';
import type { CheckContext } from './check-context.js';
import { describeUnresolvedVersion, resolveVersion } from './resolve-version.js';
import { findPlaceholders } from './placeholders.js';
import { describeSecretRef, lookUpSecret } from './secrets.js';
import type { SecretDeps } from './secrets.js';
import type { RawSetup } from './raw-types.js';
import type { DataCenter, ResolvedSetup, SecretRef, Setup, Site } from './types.js';

/** One setup as its rules read it: built, as the site wrote it, as the defaults wrote it, and where each is. */
interface SetupSource {
  site: Site;
  setup: Setup;
  /** the site's own entry (empty when the site only names the procedure) */
  own: RawSetup;
  /** the central defaults of the procedure, if any */
  central: RawSetup;
  at: JsonPath;
  defaultsAt: JsonPath;
}

/** Check one site's setup; returns it resolved when nothing is wrong with it. */
export async function checkSetup(context: CheckContext, site: Site, setup: Setup, dataCenter: DataCenter | undefined): Promise<ResolvedSetup | undefined> {
  const source = readSetupSource(context, site, setup);
  const { at } = source;
  if (!checkProcedureKnown(context, at, setup.procedure)) return undefined;
  const placeholders = checkPlaceholders(context, source);
  if (setup.version === '') {
    report(context, [...at, 'version'], `missing required field "version": set it here or in defaults.procedures.${setup.procedure}.version`, { path: at, side: 'key' });
    return undefined;
  }
  const versionAt = [...(source.own.version !== undefined ? at : source.defaultsAt), 'version'];
  const procedure = resolveProcedure(context, versionAt, setup.procedure, setup.version);
  if (!procedure) {
    // a broken version (its problems reported by the catalogue) whose values schema is sound
    // still checks the site's values, so they are reported in the same run
    const partial = findBrokenForValues(context, setup.procedure, setup.version);
    if (partial) checkSetupValues(context, source, partial, placeholders);
    return undefined;
  }

  let ok = placeholders.length === 0;
  if (dataCenter) ok = checkTargetKind(context, at, procedure, dataCenter) && ok;
  ok = checkSetupValues(context, source, procedure, placeholders) && ok;
  ok = checkSecretRefs(context, source, procedure) && ok;
  if (context.secretDeps) ok = (await checkSecretsResolve(context, source, procedure, context.secretDeps)) && ok;
  return ok ? { site, setup, procedure, values: setup.values } : undefined;
}

/** Central defaults are checked on their own too: a broken default is one problem, not one per site. */
export function checkDefaults(context: CheckContext, procedureName: string): void {
  const at = buildDefaultsPath(procedureName);
  if (!checkProcedureKnown(context, at, procedureName)) return;
  const version = findRawDefaults(context, procedureName)?.version;
  if (version !== undefined) resolveProcedure(context, [...at, 'version'], procedureName, version);
}

function readSetupSource(context: CheckContext, site: Site, setup: Setup): SetupSource {
  return {
    site,
    setup,
    own: context.raw.sites[site.name].procedures?.[setup.procedure] ?? {},
    central: findRawDefaults(context, setup.procedure) ?? {},
    at: buildSetupPath(site.name, setup.procedure),
    defaultsAt: buildDefaultsPath(setup.procedure),
  };
}

function checkProcedureKnown(context: CheckContext, at: JsonPath, name: string): boolean {
  const known = [...new Set([...context.catalogue.names(), ...context.brokenVersions.keys()])].sort();
  if (known.includes(name)) return true;
  const offered = known.length > 0 ? `catalogue has: ${known.join(', ')}` : 'the catalogue is empty';
  report(context, at, `unknown procedure "${name}" (${offered})${formatSuggestion(name, known)}`, { path: at, side: 'key' });
  return false;
}

/**
 * Every site asking for the same version of a procedure resolves the same way: semver
 * parsing and sorting once per catalogue and request, not once per site (it added up over
 * 1,000). Keyed by the catalogue, which one load shares across all its checks.
 */
const resolutions = new WeakMap<Catalogue, Map<string, { available: string[]; version: string | undefined }>>();

/** The procedure version `wanted` selects; undefined when none (reported) or when it is broken (reported by the catalogue). */
function resolveProcedure(context: CheckContext, versionAt: JsonPath, name: string, wanted: string): Procedure | undefined {
  let known = resolutions.get(context.catalogue);
  if (!known) resolutions.set(context.catalogue, (known = new Map()));
  const key = `${name}\0${wanted}`;
  let resolution = known.get(key);
  if (!resolution) {
    const broken = context.brokenVersions.get(name) ?? [];
    const available = [...context.catalogue.versions(name), ...broken].sort(semver.rcompare);
    resolution = { available, version: resolveVersion(available, wanted) };
    known.set(key, resolution);
  }
  const { available, version } = resolution;
  if (version === undefined) {
    report(context, versionAt, describeUnresolvedVersion(name, wanted, available));
    return undefined;
  }
  context.versionsUsed.add(`${name}@${version}`);
  return context.catalogue.get(name, version);
}

function findBrokenForValues(context: CheckContext, name: string, wanted: string): Procedure | undefined {
  const version = resolutions.get(context.catalogue)?.get(`${name}\0${wanted}`)?.version;
  return version === undefined ? undefined : context.brokenForValues?.get(`${name}@${version}`);
}

function checkTargetKind(context: CheckContext, at: JsonPath, procedure: Procedure, dataCenter: DataCenter): boolean {
  const needed = dataCenter.kind === 'kubernetes' ? 'kubernetes' : 'vm';
  if (procedure[needed]) return true;
  report(context, at, `${procedure.name} ${procedure.version} has no ${needed} section, but data center ${dataCenter.name} is of kind ${dataCenter.kind}`, {
    path: at,
    side: 'key',
  });
  return false;
}

/**
 * Placeholders `clone-procedure` left in the site's own setup: each one is a value someone
 * still has to fill in. Returns their paths (relative to the setup).
 */
function checkPlaceholders(context: CheckContext, { own, at }: SetupSource): JsonPath[] {
  const found = findPlaceholders({ values: own.values, userConnection: own.userConnection, processTransfers: own.processTransfers });
  for (const { path, placeholder } of found) {
    const field = formatPath(path[0] === 'values' ? path.slice(1) : path);
    report(context, [...at, ...path], `"${field}" still holds the placeholder "${placeholder}" left by clone-procedure: replace it with this site's own value`);
  }
  return found.map((placeholder) => placeholder.path);
}

/**
 * Merged values against the procedure's schema. Each problem points where the offending
 * value was written — the site's values, or the central defaults it inherited. A value still
 * holding a placeholder is reported as such already, not again for failing the schema.
 */
function checkSetupValues(context: CheckContext, source: SetupSource, procedure: Procedure, placeholders: readonly JsonPath[]): boolean {
  const { setup, own, central } = source;
  const errors = checkValues(procedure, setup.values);
  if (errors.length === 0) return true;
  const sitePath = [...source.at, 'values'];
  const centralPath = [...source.defaultsAt, 'values'];
  const isPlaceholder = (path: JsonPath) => placeholders.some((held) => held[0] === 'values' && startsWith(path, held.slice(1)));
  for (const issue of explainSchemaErrors(errors, setup.values)) {
    if (isPlaceholder(issue.path)) continue;
    const fromDefaults = !hasPath(own.values, issue.anchor.path) && hasPath(central.values, issue.anchor.path);
    const base = fromDefaults ? centralPath : sitePath;
    report(context, [...base, ...issue.path], issue.message, { path: [...base, ...issue.anchor.path], side: issue.anchor.side });
  }
  return false;
}

/** Every secret the procedure declares has a reference, and the site references no other. */
function checkSecretRefs(context: CheckContext, { setup, own, at }: SetupSource, procedure: Procedure): boolean {
  const written = own.secrets ?? {};
  const declared = procedure.secrets;
  let ok = true;
  for (const name of declared) {
    if (Object.hasOwn(setup.secrets, name)) continue;
    ok = false;
    const anchor = Object.keys(written).length > 0 ? [...at, 'secrets'] : at;
    report(
      context,
      [...at, 'secrets', name],
      `missing secret reference "${name}": ${procedure.name} ${procedure.version} declares it; add secrets.${name}: { env: VARIABLE } or { file: PATH }`,
      { path: anchor, side: 'key' },
    );
  }
  // Undeclared references written in central defaults are tolerated: defaults serve every
  // version, and older versions may declare fewer secrets.
  for (const name of Object.keys(written)) {
    if (declared.includes(name)) continue;
    ok = false;
    const offered = declared.length > 0 ? `declares: ${declared.join(', ')}` : 'declares no secrets';
    report(context, [...at, 'secrets', name], `unknown secret "${name}" (${procedure.name} ${procedure.version} ${offered})${formatSuggestion(name, declared)}`, {
      path: [...at, 'secrets', name],
      side: 'key',
    });
  }
  return ok;
}

/** Every declared secret's reference resolves, reported where the reference is written (site or defaults). */
async function checkSecretsResolve(context: CheckContext, source: SetupSource, procedure: Procedure, deps: SecretDeps): Promise<boolean> {
  const { setup, at, defaultsAt } = source;
  const own = source.own.secrets ?? {};
  const central = source.central.secrets ?? {};
  let ok = true;
  for (const name of procedure.secrets) {
    const ref = setup.secrets[name];
    if (!ref) continue;
    const lookup = await lookUpSecret(ref, deps);
    if (lookup.ok) continue;
    ok = false;
    const written = own[name] ?? central[name];
    const origin = own[name] !== undefined ? at : defaultsAt;
    const field = 'env' in ref ? 'env' : 'file';
    const shown: SecretRef = field === 'env' ? ref : { file: written?.file ?? (ref as { file: string }).file };
    report(context, [...origin, 'secrets', name, field], `secret "${name}": ${describeSecretRef(shown)} ${lookup.reason}`);
  }
  return ok;
}

function startsWith(path: JsonPath, prefix: JsonPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, index) => String(path[index]) === String(segment));
}
