/**
 * The one entry point for commands: sites.yaml and the catalogues it names, parsed, checked
 * (parse → schema → cross-field) and resolved — or one InvalidInputError listing every
 * problem of the inventory and the templates together.
 */
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import type { Problem } from '../errors.js';
import { sortProblems } from '../input/problems.js';
import { checkAgainstSchema, compileSchema } from '../input/schema-check.js';
import type { SchemaIssue } from '../input/schema-check.js';
import { createProblem } from '../input/yaml-source.js';
import type { JsonPath, YamlSource } from '../input/yaml-source.js';
import { readCatalogue } from '../procedure/catalogue.js';
import type { Catalogue } from '../procedure/types.js';
import { buildInventory, DEFAULT_CATALOGUES } from './build-inventory.js';
import { readInventorySource } from './inventory-source.js';
import { checkInventory } from './check-inventory.js';
import type { CheckInput } from './check-context.js';
import { isRecord } from './merge-values.js';
import type { RawInventory } from './raw-types.js';
import type { Inventory, ResolvedSetup } from './types.js';

export interface LoadProjectOptions {
  /** sites.yaml as the user named it; problems use this path verbatim */
  inventoryPath: string;
  /** environment for secret references (`env:`) and `~` in paths */
  env: Record<string, string | undefined>;
  /** relative paths resolve from here; default: the process's working directory */
  cwd?: string;
  /** reads sites.yaml and secret files; default: fs, UTF-8 */
  readFile?: (file: string) => Promise<string>;
  /** check that every secret reference resolves (default true); values are read and dropped */
  checkSecrets?: boolean;
  /**
   * return the problems found after parsing instead of throwing them (default false): for
   * commands that need only part of the inventory to be valid. A file that does not parse
   * still throws. Setups with problems are missing from `items`.
   */
  collectProblems?: boolean;
  /** check that the files data centers name (kubeconfig, SSH keys) can be read: `ozg validate` */
  checkFiles?: boolean;
}

export interface LoadProjectResult {
  inventory: Inventory;
  catalogue: Catalogue;
  /** every (site, setup, procedure), in inventory order */
  items: ResolvedSetup[];
  /** with `collectProblems`: every problem found, sorted; otherwise always empty */
  problems: Problem[];
}

export async function loadProject(options: LoadProjectOptions): Promise<LoadProjectResult> {
  const project = await readProject(options);
  const checked = await checkInventory(project.check);
  const problems = sortProblems([...project.problems, ...checked.problems], options.inventoryPath);
  if (problems.length > 0 && !options.collectProblems) throw new InvalidInputError(problems);
  const { inventory, catalogue } = project.check;
  return { inventory, catalogue, items: checked.resolved, problems: options.collectProblems ? problems : [] };
}

export interface ReadProjectResult {
  /** what the cross-field rules read: checkInventory for all of it, checkSite for one site */
  check: CheckInput;
  /** the schema's and the catalogues' problems, unsorted */
  problems: Problem[];
  /** the schema's problems by the JSON path they are at (for telling a site's own apart) */
  schemaIssues: { path: JsonPath; problem: Problem }[];
  /** catalogue problems found at entries of sites.yaml (`catalogues:`): every site depends on them */
  catalogueEntryProblems: Problem[];
  /** `name@version` → that version folder's problems */
  versionProblems: Map<string, Problem[]>;
}

/** sites.yaml and its catalogues, read and schema-checked but not yet cross-checked. A file that does not parse throws. */
export async function readProject(options: Omit<LoadProjectOptions, 'collectProblems'>): Promise<ReadProjectResult> {
  const cwd = options.cwd ?? process.cwd();
  const readText = options.readFile ?? ((file: string) => readFile(file, 'utf8'));
  const display = options.inventoryPath;
  const file = path.resolve(cwd, display);
  const source = await readInventorySource(display, file, readText);

  const schema = checkAgainstSchema(source, compileSchema('inventory'));
  const isBroken = (prefix: JsonPath): boolean => schema.issues.some((issue) => startsWith(issue.path, prefix));
  const homeDir = options.env.HOME ?? os.homedir();
  const inventory = buildInventory(source.data, { file, homeDir, isBroken });
  const raw = (isRecord(source.data) ? source.data : {}) as unknown as RawInventory;

  const catalogueProblems: Problem[] = [];
  const catalogueDirs = isBroken(['catalogues']) ? [] : await findCatalogueDirs(source, raw, cwd, catalogueProblems);
  const catalogue = await readCatalogue(catalogueDirs, { cwd });
  catalogueProblems.push(...catalogue.problems);

  const check: CheckInput = {
    source,
    raw,
    inventory,
    catalogue: catalogue.catalogue,
    brokenVersions: catalogue.brokenVersions,
    brokenForValues: catalogue.brokenForValues,
    secretDeps: options.checkSecrets === false ? undefined : { env: options.env, readFile: readText },
    checkSetups: !isBroken(['catalogues']) && catalogueProblems.every((problem) => problem.file !== display),
    brokenDefaults: findBrokenDefaults(schema.issues, raw),
    ...(options.checkFiles ? { checkFiles: true } : {}),
  };
  const schemaIssues = schema.issues.map((issue) => ({ path: issue.path, problem: createProblem(source, issue.path, issue.message, issue.anchor) }));
  const catalogueEntryProblems = catalogueProblems.filter((problem) => problem.file === display);
  return { check, problems: [...schema.problems, ...catalogueProblems], schemaIssues, catalogueEntryProblems, versionProblems: catalogue.versionProblems };
}

/**
 * Catalogue directories as problems should show them: relative to the working directory
 * (through the inventory's directory, as the user gave it) or absolute. Missing ones and
 * repeats are reported at their entry in sites.yaml.
 */
async function findCatalogueDirs(source: YamlSource, raw: RawInventory, cwd: string, problems: Problem[]): Promise<string[]> {
  const written = raw.catalogues ?? DEFAULT_CATALOGUES;
  const base = path.dirname(source.file);
  const dirs: string[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of written.entries()) {
    const at = raw.catalogues ? ['catalogues', index] : ['catalogues'];
    const shown = path.isAbsolute(entry) ? entry : path.join(base, entry);
    const absolute = path.resolve(cwd, shown);
    if (seen.has(absolute)) {
      problems.push(createProblem(source, at, `catalogue ${entry} is listed twice`));
      continue;
    }
    seen.add(absolute);
    const info = await stat(absolute).catch(() => undefined);
    if (!info?.isDirectory()) {
      const what = raw.catalogues ? `catalogue directory ${entry} not found` : `default catalogue directory ${entry} not found; set catalogues: [...]`;
      problems.push(createProblem(source, at, what, raw.catalogues ? undefined : { path: [], side: 'value' }));
      continue;
    }
    dirs.push(shown);
  }
  return dirs;
}

function findBrokenDefaults(issues: SchemaIssue[], raw: RawInventory): Set<string> {
  const broken = new Set<string>();
  const procedures = raw.defaults?.procedures;
  for (const issue of issues) {
    if (issue.path[0] !== 'defaults') continue;
    // defaults or defaults.procedures itself unusable: every procedure's defaults are in doubt
    if (issue.path.length <= 2) for (const name of isRecord(procedures) ? Object.keys(procedures) : []) broken.add(name);
    else broken.add(String(issue.path[2]));
  }
  return broken;
}

function startsWith(path: JsonPath, prefix: JsonPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, index) => String(path[index]) === String(segment));
}
