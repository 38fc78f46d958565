/**
 * sites.yaml data (already schema-checked) → the in-memory inventory: defaults folded into
 * each setup, paths made absolute, defaults for omitted settings filled in.
 */
import path from 'node:path';
import type { JsonPath } from '../input/yaml-source.js';
import { isRecord, mergeValues } from './merge-values.js';
import { resolveUserPath } from './paths.js';
import type { RawDataCenter, RawEnvironment, RawInventory, RawSetup, RawSite } from './raw-types.js';
import type { DataCenter, EnvironmentSpec, Inventory, SecretRef, Setup, Site } from './types.js';

export const DEFAULT_CATALOGUES = ['./templates'];
export const DEFAULT_LEDGER = '.ozg';
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_KEEP_RELEASES = 3;

export interface BuildInventoryOptions {
  /** absolute path of sites.yaml */
  file: string;
  homeDir: string;
  /** parts the schema check rejected; they are left out rather than guessed at */
  isBroken?: (path: JsonPath) => boolean;
}

export function buildInventory(data: unknown, options: BuildInventoryOptions): Inventory {
  const raw = (isRecord(data) ? data : {}) as Partial<RawInventory>;
  const isBroken = options.isBroken ?? (() => false);
  const dir = path.dirname(options.file);
  const resolve = (given: string): string => resolveUserPath(dir, given, options.homeDir);
  const catalogues = Array.isArray(raw.catalogues) && !isBroken(['catalogues']) ? raw.catalogues : DEFAULT_CATALOGUES;

  const dataCenters = new Map<string, DataCenter>();
  for (const [name, dataCenter] of listEntries(raw.dataCenters)) {
    if (isBroken(['dataCenters', name])) continue;
    dataCenters.set(name, buildDataCenter(name, dataCenter, resolve));
  }
  const defaults = isRecord(raw.defaults) && isRecord(raw.defaults.procedures) ? raw.defaults.procedures : {};
  const sites: Site[] = [];
  for (const [name, site] of listEntries(raw.sites)) {
    if (isBroken(['sites', name])) continue;
    sites.push(buildSite(name, site, defaults, resolve));
  }
  return {
    file: options.file,
    dir,
    catalogues: catalogues.map(resolve),
    ledgerDir: resolve(typeof raw.ledger === 'string' ? raw.ledger : DEFAULT_LEDGER),
    concurrency: typeof raw.concurrency === 'number' ? raw.concurrency : DEFAULT_CONCURRENCY,
    dataCenters,
    sites,
  };
}

function buildDataCenter(name: string, raw: RawDataCenter, resolve: (given: string) => string): DataCenter {
  const environments: DataCenter['environments'] = { test: buildEnvironment('test', raw.environments.test, resolve) };
  if (raw.environments.prod) environments.prod = buildEnvironment('prod', raw.environments.prod, resolve);
  return { name, kind: raw.kind, environments, keepReleases: raw.keepReleases ?? DEFAULT_KEEP_RELEASES };
}

function buildEnvironment(name: 'test' | 'prod', raw: RawEnvironment, resolve: (given: string) => string): EnvironmentSpec {
  const spec: EnvironmentSpec = { name };
  if (raw.root !== undefined) spec.root = resolve(raw.root);
  if (raw.deployRoot !== undefined) spec.deployRoot = raw.deployRoot;
  if (raw.ssh !== undefined) {
    const { identityFile, knownHosts, bastion, ...rest } = raw.ssh;
    spec.ssh = { ...rest };
    if (identityFile !== undefined) spec.ssh.identityFile = resolve(identityFile);
    if (knownHosts !== undefined) spec.ssh.knownHosts = resolve(knownHosts);
    if (bastion !== undefined) {
      spec.ssh.bastion = { ...bastion };
      if (bastion.identityFile !== undefined) spec.ssh.bastion.identityFile = resolve(bastion.identityFile);
    }
  }
  if (raw.kubeconfig !== undefined) spec.kubeconfig = resolve(raw.kubeconfig);
  if (raw.context !== undefined) spec.context = raw.context;
  if (raw.namespace !== undefined) spec.namespace = raw.namespace;
  if (raw.smokeImage !== undefined) spec.smokeImage = raw.smokeImage;
  if (raw.smokeStartupSeconds !== undefined) spec.smokeStartupSeconds = raw.smokeStartupSeconds;
  if (raw.rolloutTimeoutSeconds !== undefined) spec.rolloutTimeoutSeconds = raw.rolloutTimeoutSeconds;
  if (raw.concurrency !== undefined) spec.concurrency = raw.concurrency;
  if (raw.confirm !== undefined) spec.confirm = raw.confirm;
  return spec;
}

function buildSite(name: string, raw: RawSite, defaults: Record<string, RawSetup>, resolve: (given: string) => string): Site {
  const site: Site = {
    name,
    labels: { ...(raw.labels ?? {}) },
    dataCenter: raw.dataCenter,
    facts: structuredClone(raw.facts ?? {}),
    setups: Object.entries(raw.procedures ?? {}).map(([procedure, setup]) => buildSetup(procedure, setup, defaults[procedure], resolve)),
  };
  if (raw.hosts) site.hosts = structuredClone(raw.hosts);
  return site;
}

/** The site's setup with central defaults underneath: every field the site sets wins. */
export function buildSetup(procedure: string, own: RawSetup, central: RawSetup | undefined, resolve: (given: string) => string): Setup {
  const secrets: Record<string, SecretRef> = {};
  for (const [name, ref] of Object.entries({ ...(central?.secrets ?? {}), ...(own.secrets ?? {}) })) {
    secrets[name] = ref.env !== undefined ? { env: ref.env } : { file: resolve(ref.file ?? '') };
  }
  const setup: Setup = {
    procedure,
    version: own.version ?? central?.version ?? '',
    values: mergeValues(central?.values, own.values),
    secrets,
  };
  const userConnection = own.userConnection ?? central?.userConnection;
  if (userConnection !== undefined) setup.userConnection = structuredClone(userConnection);
  const processTransfers = own.processTransfers ?? central?.processTransfers;
  if (processTransfers !== undefined) setup.processTransfers = structuredClone(processTransfers);
  return setup;
}

function listEntries<T>(value: Record<string, T> | undefined): [string, T][] {
  return isRecord(value) ? (Object.entries(value) as [string, T][]) : [];
}
