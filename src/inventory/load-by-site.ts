/**
 * The project as a command that acts on some sites needs it. Problems no single site owns
 * stop the command (one InvalidInputError, exit 3): YAML syntax and duplicate keys, the
 * schema outside `sites.<name>` (data centers, defaults, catalogues, ledger), the catalogue
 * entries of sites.yaml, and the inventory-wide rules (data-center targets, central defaults,
 * targets two sites share). A site's own problems — its schema, its cross-field rules, its
 * secrets, the problems of a procedure version one of its setups uses — leave that site out.
 */
import type { Problem } from '../errors.js';
import { InvalidInputError } from '../errors.js';
import { sortProblems } from '../input/problems.js';
import type { Catalogue } from '../procedure/types.js';
import { checkInventoryWide } from './check-inventory.js';
import { checkSite } from './check-site.js';
import { loadProject, readProject, type LoadProjectOptions } from './load-project.js';
import { isRecord } from './merge-values.js';
import type { LabelledSite } from './select.js';
import type { Inventory, ResolvedSetup } from './types.js';

/** A site left out because of its own problems. */
export interface InvalidSite extends LabelledSite {
  problems: Problem[];
}

export interface ProjectBySite {
  inventory: Inventory;
  catalogue: Catalogue;
  /** the setups of the valid sites, in inventory order */
  items: ResolvedSetup[];
  /** sites with problems of their own, in inventory order */
  invalidSites: InvalidSite[];
  /** every site, valid or not, in inventory order: what names and selectors match */
  everySite: LabelledSite[];
  /** `name@version` → problems of a procedure version folder */
  versionProblems: Map<string, Problem[]>;
  /** site → the procedure versions its setups use */
  versionsUsed: Map<string, string[]>;
  /** catalogue problems outside any version folder (a stray procedure.yaml) */
  strayProblems: Problem[];
}

export type LoadScope = 'every-problem' | 'by-site';

/**
 * `every-problem` (validate): any problem anywhere throws, as before. `by-site`: only the
 * problems no site owns throw; the rest come back sorted into sites and versions.
 */
export async function loadProjectBySite(options: Omit<LoadProjectOptions, 'collectProblems'>, scope: LoadScope): Promise<ProjectBySite> {
  if (scope === 'every-problem') {
    const { inventory, catalogue, items } = await loadProject(options);
    return { inventory, catalogue, items, invalidSites: [], everySite: inventory.sites, versionProblems: new Map(), versionsUsed: new Map(), strayProblems: [] };
  }
  const project = await readProject(options);
  const { check } = project;
  const display = options.inventoryPath;
  const siteSchema = new Map<string, Problem[]>();
  const wide: Problem[] = [...project.catalogueEntryProblems];
  for (const { path, problem } of project.schemaIssues) {
    if (path[0] === 'sites' && path.length >= 2) siteSchema.set(String(path[1]), [...(siteSchema.get(String(path[1])) ?? []), problem]);
    else wide.push(problem);
  }
  wide.push(...checkInventoryWide(check));
  if (wide.length > 0) throw new InvalidInputError(sortProblems(wide, display));

  const inVersion = new Set([...project.versionProblems.values()].flat());
  const schemaProblems = new Set(project.schemaIssues.map((issue) => issue.problem));
  const strayProblems = project.problems.filter((p) => p.file !== display && !inVersion.has(p) && !schemaProblems.has(p));
  const built = new Map(check.inventory.sites.map((site) => [site.name, site]));
  const rawSites = isRecord(check.raw.sites) ? check.raw.sites : {};
  const result: ProjectBySite = { inventory: check.inventory, catalogue: check.catalogue, items: [], invalidSites: [], everySite: [], versionProblems: project.versionProblems, versionsUsed: new Map(), strayProblems };
  for (const name of Object.keys(rawSites)) {
    const site = built.get(name);
    const labels = site?.labels ?? readLabels(rawSites[name]);
    result.everySite.push({ name, labels });
    const problems = [...(siteSchema.get(name) ?? [])];
    if (site) {
      const checked = await checkSite(check, site);
      problems.push(...checked.problems);
      for (const version of checked.versions) problems.push(...(project.versionProblems.get(version) ?? []));
      result.versionsUsed.set(name, checked.versions);
      if (problems.length === 0) result.items.push(...checked.resolved);
    }
    if (problems.length > 0) result.invalidSites.push({ name, labels, problems: sortProblems(problems, display) });
  }
  return result;
}

/** The labels of a site the schema rejected, as far as they are plain strings: enough to select it. */
function readLabels(raw: unknown): Record<string, string> {
  const labels = isRecord(raw) && isRecord(raw.labels) ? raw.labels : {};
  return Object.fromEntries(Object.entries(labels).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
