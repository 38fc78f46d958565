import { posix } from 'node:path';
import type { EnvironmentName, ResolvedSetup } from '../inventory/types.js';
import type { Bundle } from '../procedure/types.js';
import { InvalidInputError, RenderError, type Problem } from '../errors.js';
import { listBundleObjects } from '../targets/create-driver.js';
import { writeBundles, type WrittenBundle } from '../procedure/write-bundles.js';
import type { Workspace } from '../workspace/workspace.js';

/** `ozg validate`'s result: the inventory, its catalogue and every bundle passed every check. */
export interface ValidateResult {
  valid: true;
  /** the inventory as the user named it */
  inventory: string;
  sites: number;
  procedures: number;
  bundles: number;
}

/** Inventory, templates and every bundle of every site: the lint a pipeline runs before anything else. */
export async function validateWorkspace(workspace: Workspace, inventory: string): Promise<ValidateResult> {
  // only counted: each bundle is dropped once checked, so 29,000 of them never sit in memory at once
  const rendered = await renderEachSite(workspace, workspace.selectItems({}), { redactSecrets: false, keep: false });
  throwProblems(rendered);
  return { valid: true, inventory, sites: workspace.inventory.sites.length, procedures: workspace.catalogue.names().length, bundles: rendered.count };
}

/** `ozg render`'s result: where the bundles were written. */
export interface RenderResult {
  /** absolute output folder */
  out: string;
  bundles: WrittenBundle[];
}

export interface RenderToFolderOptions {
  /** the output folder, relative to `cwd` */
  out: string;
  cwd: string;
  only?: EnvironmentName;
}

/** Bundles on disk for review: secrets redacted, so the folder is safe to share or diff. */
export async function renderToFolder(workspace: Workspace, items: ResolvedSetup[], options: RenderToFolderOptions): Promise<RenderResult> {
  const bundles = await renderAll(workspace, items, { redactSecrets: true, only: options.only });
  const written = await writeBundles(bundles, options.cwd, options.out);
  return { out: written.dir, bundles: written.bundles };
}

/**
 * Renders every selected bundle, collecting every render error and every bundle its target
 * would refuse instead of stopping at the first, so one `ozg validate` shows all template
 * problems at once and `ozg deploy` refuses before it contacts any target.
 */
export async function renderAll(
  workspace: Workspace,
  items: ResolvedSetup[],
  options: { redactSecrets: boolean; only?: EnvironmentName },
): Promise<Bundle[]> {
  const rendered = await renderEachSite(workspace, items, options);
  throwProblems(rendered);
  return rendered.bundles;
}

function throwProblems(rendered: RenderEachSiteResult): void {
  const problems = [...rendered.problems.values()].flat();
  if (problems.length > 0) throw new InvalidInputError(dedupe(problems), rendered.hint ? { hint: rendered.hint } : {});
}

export interface RenderEachSiteResult {
  /** the bundles of the sites that rendered without a problem (none with `keep: false`) */
  bundles: Bundle[];
  /** how many bundles rendered, kept or not */
  count: number;
  /** site → its render problems (template errors, bundles its target would refuse) */
  problems: Map<string, Problem[]>;
  /** the refusal's own hint when only refusals were found and they all say the same */
  hint?: string;
}

/** Like renderAll, with each site's problems apart: a fleet deploy leaves out only the sites that do not render. */
export async function renderEachSite(
  workspace: Workspace,
  items: ResolvedSetup[],
  options: { redactSecrets: boolean; only?: EnvironmentName; keep?: boolean },
): Promise<RenderEachSiteResult> {
  const bundles: { site: string; bundle: Bundle }[] = [];
  const problems = new Map<string, Problem[]>();
  const add = (site: string, found: Problem[]) => problems.set(site, [...(problems.get(site) ?? []), ...found]);
  const owners = new Map<string, ObjectOwner>();
  // only a site with two or more procedures can have two claim one object
  const perSite = new Map<string, number>();
  for (const item of items) perSite.set(item.site.name, (perSite.get(item.site.name) ?? 0) + 1);
  const refusalHints = new Set<string>();
  let renderFailed = false;
  let count = 0;
  const renderProblems = new Map<string, { site: string; problem: Problem; environments: EnvironmentName[] }>();
  // every download under way at once (bounded), before the first render waits for one
  await workspace.prefetchArtifacts(items);
  for (const item of items) {
    for (const environment of workspace.environmentsOf(item.site, options.only)) {
      try {
        const bundle = await workspace.renderBundle(item, environment, { redactSecrets: options.redactSecrets, keep: options.keep !== false });
        count++;
        if (options.keep !== false) bundles.push({ site: item.site.name, bundle });
        const shared = perSite.get(item.site.name)! > 1 ? await claimObjects(workspace, item, environment, bundle, owners) : [];
        if (shared.length > 0) {
          add(item.site.name, shared);
          refusalHints.add('rename the object in one of the two procedures, or leave it to one of them');
        }
      } catch (error) {
        if (error instanceof InvalidInputError) {
          // a bundle its target cannot take: the problems name the rendered file and document
          add(item.site.name, error.problems);
          if (error.hint) refusalHints.add(error.hint);
          continue;
        }
        if (!(error instanceof RenderError)) throw error;
        renderFailed = true;
        for (const found of error.all()) {
          const problem = { file: found.template, line: found.line ?? 1, col: found.col ?? 1, path: `sites.${item.site.name}.procedures.${item.procedure.name}`, message: found.message };
          // the same template problem in test and prod is one problem: reported once, naming both
          const key = JSON.stringify([problem.file, problem.line, problem.col, problem.path, problem.message]);
          const earlier = renderProblems.get(key);
          if (earlier) earlier.environments.push(environment);
          else {
            renderProblems.set(key, { site: item.site.name, problem, environments: [environment] });
            add(item.site.name, [problem]);
          }
        }
      }
    }
  }
  for (const { problem, environments } of renderProblems.values()) problem.message = `${environments.join(', ')}: ${problem.message}`;
  const hint = !renderFailed && refusalHints.size === 1 ? [...refusalHints][0] : undefined;
  for (const [site, found] of problems) problems.set(site, dedupe(found));
  return { bundles: bundles.filter((b) => !problems.has(b.site)).map((b) => b.bundle), count, problems, ...(hint ? { hint } : {}) };
}

interface ObjectOwner {
  procedure: string;
  /** the template file that defines it, as render errors name files */
  file: string;
  line: number;
}

/**
 * An object (kind/name) in a site's namespace belongs to one procedure: two procedures of a
 * site that define the same one would take it from each other on every deploy, and the one
 * deployed last would prune it from under the other. Registers this bundle's objects in
 * `owners` and returns a problem for each one an earlier procedure of the site defines.
 */
async function claimObjects(workspace: Workspace, item: ResolvedSetup, environment: EnvironmentName, bundle: Bundle, owners: Map<string, ObjectOwner>): Promise<Problem[]> {
  const dc = workspace.inventory.dataCenters.get(item.site.dataCenter)!;
  const spec = dc.environments[environment];
  if (!spec) return [];
  // a chart's bundle files are already named by their path in the procedure folder (chart/templates/x.yaml)
  const manifests = item.procedure.kubernetes?.manifests ?? '.';
  const problems: Problem[] = [];
  for (const object of await listBundleObjects(dc, spec, item.site, bundle)) {
    const owner: ObjectOwner = { procedure: item.procedure.name, file: posix.join(item.procedure.name, item.procedure.version, manifests, object.file), line: object.line };
    const key = `${item.site.name}\0${environment}\0${object.key}`;
    const earlier = owners.get(key);
    if (!earlier) {
      owners.set(key, owner);
      continue;
    }
    if (earlier.procedure === owner.procedure) continue;
    problems.push({
      file: owner.file,
      line: owner.line,
      col: 1,
      path: `sites.${item.site.name}.procedures.${item.procedure.name}`,
      message: `${object.key} is also defined by procedure ${earlier.procedure} (${earlier.file}:${earlier.line}); an object in the site's namespace belongs to one procedure`,
    });
  }
  return problems;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}:${p.line}:${p.col}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
