/**
 * Catalogues: directories of `<procedure>/<version>/procedure.yaml`. Several catalogues are
 * read as one; a version offered by two of them is an error, never a silent shadow.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import semver from 'semver';
import { InvalidInputError } from '../errors.js';
import type { Problem } from '../errors.js';
import { sortProblems } from '../input/problems.js';
import { createProblem } from '../input/yaml-source.js';
import { loadProcedureFile, PROCEDURE_FILE } from './load.js';
import type { Catalogue, Procedure } from './types.js';

export interface ReadCatalogueOptions {
  /** relative catalogue paths resolve from here; default: the process's working directory */
  cwd?: string;
}

export interface ReadCatalogueResult {
  catalogue: Catalogue;
  problems: Problem[];
  /**
   * procedure name → versions that exist on disk but have problems. Known, so a site asking
   * for one is not told the version is missing; its problems are already reported.
   */
  brokenVersions: Map<string, string[]>;
  /**
   * `name@version` → the problems of that version folder: a command that acts on some sites
   * stops only for the versions they use (the rest of `problems` are warnings to it)
   */
  versionProblems: Map<string, Problem[]>;
  /** `name@version` → a broken version whose values schema is sound (see LoadProcedureResult.forValues) */
  brokenForValues: Map<string, Procedure>;
}

/** Every procedure version in `dirs`; throws one InvalidInputError listing every problem. */
export async function loadCatalogue(dirs: string[], options: ReadCatalogueOptions = {}): Promise<Catalogue> {
  const result = await readCatalogue(dirs, options);
  if (result.problems.length > 0) throw new InvalidInputError(result.problems);
  return result.catalogue;
}

/** Like loadCatalogue, but hands the problems back so they can join the inventory's. */
export async function readCatalogue(dirs: string[], options: ReadCatalogueOptions = {}): Promise<ReadCatalogueResult> {
  const cwd = options.cwd ?? process.cwd();
  const problems: Problem[] = [];
  const procedures: Procedure[] = [];
  const brokenVersions = new Map<string, string[]>();
  const versionProblems = new Map<string, Problem[]>();
  const brokenForValues = new Map<string, Procedure>();
  const firstFile = new Map<string, string>();
  const seenDirs = new Set<string>();

  for (const dir of dirs) {
    const absolute = path.resolve(cwd, dir);
    if (seenDirs.has(absolute)) continue;
    seenDirs.add(absolute);
    const found = await findVersionFolders(dir, absolute, problems);
    const loaded = await Promise.all(
      found.map((folder) => loadProcedureFile({ dir: folder.absolute, displayFile: folder.displayFile, expected: folder })),
    );
    loaded.forEach((result, index) => {
      const folder = found[index];
      const key = `${folder.name}@${folder.version}`;
      const first = firstFile.get(key);
      if (first !== undefined) {
        const message = `${folder.name} ${folder.version} is defined in two catalogues: ${first} and ${folder.displayFile}; remove one`;
        const problem = result.source ? createProblem(result.source, ['version'], message) : { file: folder.displayFile, line: 1, col: 1, path: 'version', message };
        problems.push(problem);
        versionProblems.set(key, [...(versionProblems.get(key) ?? []), problem]);
        return;
      }
      firstFile.set(key, folder.displayFile);
      problems.push(...result.problems);
      if (result.problems.length > 0) versionProblems.set(key, [...(versionProblems.get(key) ?? []), ...result.problems]);
      if (result.procedure) procedures.push(result.procedure);
      else if (semver.valid(folder.version)) {
        brokenVersions.set(folder.name, [...(brokenVersions.get(folder.name) ?? []), folder.version]);
        if (result.forValues) brokenForValues.set(key, result.forValues);
      }
    });
  }
  return { catalogue: createCatalogue(procedures), problems: sortProblems(problems), brokenVersions, versionProblems, brokenForValues };
}

/** A catalogue over already-loaded procedures. */
export function createCatalogue(procedures: Procedure[]): Catalogue {
  const byName = new Map<string, Map<string, Procedure>>();
  for (const procedure of procedures) {
    const versions = byName.get(procedure.name) ?? new Map<string, Procedure>();
    versions.set(procedure.version, procedure);
    byName.set(procedure.name, versions);
  }
  const newestFirst = new Map<string, string[]>();
  for (const [name, versions] of byName) newestFirst.set(name, [...versions.keys()].sort(semver.rcompare));
  const names = [...byName.keys()].sort();
  return {
    versions: (procedure) => [...(newestFirst.get(procedure) ?? [])],
    get: (procedure, version) => byName.get(procedure)?.get(version),
    names: () => [...names],
  };
}

interface VersionFolder {
  name: string;
  version: string;
  absolute: string;
  displayFile: string;
}

async function findVersionFolders(dir: string, absolute: string, problems: Problem[]): Promise<VersionFolder[]> {
  const folders: VersionFolder[] = [];
  const procedureDirs = await listDirectory(absolute);
  if (procedureDirs === undefined) {
    problems.push({ file: dir, line: 1, col: 1, path: '', message: 'catalogue directory not found' });
    return folders;
  }
  for (const name of procedureDirs.directories) {
    const listing = await listDirectory(path.join(absolute, name));
    if (listing === undefined) continue;
    if (listing.files.includes(PROCEDURE_FILE)) {
      problems.push({
        file: path.join(dir, name, PROCEDURE_FILE),
        line: 1,
        col: 1,
        path: '',
        message: `belongs in a version folder: ${path.join(dir, name, '<version>', PROCEDURE_FILE)}`,
      });
    }
    for (const version of listing.directories) {
      folders.push({ name, version, absolute: path.join(absolute, name, version), displayFile: path.join(dir, name, version, PROCEDURE_FILE) });
    }
  }
  return folders;
}

/** Sorted directory and file names, hidden ones (.git, .DS_Store) left out; undefined if missing. */
async function listDirectory(dir: string): Promise<{ directories: string[]; files: string[] } | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  } catch {
    return undefined;
  }
  const directories: string[] = [];
  const files: string[] = [];
  for (const name of names) {
    // stat, not the dirent: a symlinked procedure folder counts as a folder
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info?.isDirectory()) directories.push(name);
    else if (info?.isFile()) files.push(name);
  }
  return { directories, files };
}
