/**
 * One procedure version: `<catalogue>/<name>/<version>/procedure.yaml`, parsed with source
 * positions, schema-checked, and checked against the files it names.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Problem } from '../errors.js';
import { checkSchemaAgainstMeta } from '../input/compile-schema.js';
import { checkAgainstSchema, compileSchema, explainSchemaErrors, parseInstancePath } from '../input/schema-check.js';
import { createProblem, parseYamlSource } from '../input/yaml-source.js';
import type { YamlSource } from '../input/yaml-source.js';
import type { SmokeCheck } from '../smoke/types.js';
import { compileValuesSchema } from './check-values.js';
import { findIrregularEntry, resolveContainedPath } from './contained-path.js';
import type { Procedure, ProcedureArtifact } from './types.js';

export const PROCEDURE_FILE = 'procedure.yaml';

/** A procedure without `values:` takes none. */
const NO_VALUES_SCHEMA = { type: 'object', properties: {}, additionalProperties: false };

export interface LoadProcedureOptions {
  /** absolute directory of this version */
  dir: string;
  /** procedure.yaml as problems name it (as the user gave the catalogue: relative or absolute) */
  displayFile: string;
  /** the folder names the file must agree with */
  expected: { name: string; version: string };
}

export interface LoadProcedureResult {
  /** undefined when there were problems */
  procedure?: Procedure;
  problems: Problem[];
  /** the parsed file, for problems the caller finds (e.g. a version in two catalogues) */
  source?: YamlSource;
  /**
   * With problems, the version as far as it is sound enough to check a site's values against
   * (its values schema is valid): so a site's values need no run of their own. Never rendered.
   */
  forValues?: Procedure;
}

interface RawProcedure {
  name: string;
  version: string;
  description?: string;
  values?: Record<string, unknown>;
  secrets?: string[];
  vm?: { files: string; static?: string; hooks?: { install?: string; activate?: string }; cloudInit?: string };
  kubernetes?: { manifests?: string; chart?: string; values?: string };
  smoke?: SmokeCheck[];
  artifacts?: RawArtifact[];
}

interface RawArtifact {
  name: string;
  sha256: string;
  url?: string;
  path?: string;
  dest?: string;
  mode?: string;
}

export async function loadProcedureFile(options: LoadProcedureOptions): Promise<LoadProcedureResult> {
  const file = path.join(options.dir, PROCEDURE_FILE);
  let text: string;
  try {
    if ((await resolveContainedPath(options.dir, PROCEDURE_FILE)).status === 'outside') {
      return { problems: [{ file: options.displayFile, line: 1, col: 1, path: '', message: `a symbolic link leading outside its version folder; every file of a procedure must be inside its folder` }] };
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${PROCEDURE_FILE} in this version folder` : `cannot read: ${(error as Error).message}`;
    return { problems: [{ file: options.displayFile, line: 1, col: 1, path: '', message: reason }] };
  }
  const { source, problems } = parseYamlSource(text, options.displayFile);
  if (problems.length > 0) return { problems, source };
  const schema = checkAgainstSchema(source, compileSchema('procedure'));
  // A mistyped field name leaves every known field checked and well-formed, so the checks
  // below still mean something and run too; any other schema problem (a wrong type, a missing
  // field) would make them misread the file, so it stops them.
  if (schema.problems.length > 0 && !schema.issues.every((issue) => issue.keyword === 'additionalProperties')) return { problems: schema.problems, source };

  const raw = source.data as RawProcedure;
  const valuesSchemaProblems = checkValuesSchema(source, raw);
  const found = [...schema.problems, ...checkFolderNames(source, raw, options.expected), ...valuesSchemaProblems, ...checkSmokeNames(source, raw), ...checkArtifactNames(source, raw)];
  found.push(...(await checkReferencedFiles(source, raw, options.dir)));
  if (found.length > 0) return { problems: found, source, ...(valuesSchemaProblems.length === 0 ? { forValues: createProcedure(source, raw, options.dir, file) } : {}) };
  return { problems: [], source, procedure: createProcedure(source, raw, options.dir, file) };
}

function createProcedure(source: YamlSource, raw: RawProcedure, dir: string, file: string): Procedure {
  const procedure: Procedure = {
    name: raw.name,
    version: raw.version,
    description: raw.description ?? '',
    dir,
    file,
    valuesSchema: raw.values ?? structuredClone(NO_VALUES_SCHEMA),
    secrets: raw.secrets ?? [],
    smoke: raw.smoke ?? [],
    artifacts: (raw.artifacts ?? []).map((artifact, index) => createArtifact(source, artifact, index)),
  };
  if (raw.vm) {
    procedure.vm = { files: raw.vm.files, hooks: { ...(raw.vm.hooks ?? {}) } };
    if (raw.vm.static !== undefined) procedure.vm.static = raw.vm.static;
    if (raw.vm.cloudInit !== undefined) procedure.vm.cloudInit = raw.vm.cloudInit;
  }
  if (raw.kubernetes?.chart !== undefined) {
    procedure.kubernetes = { chart: raw.kubernetes.chart, ...(raw.kubernetes.values !== undefined ? { values: raw.kubernetes.values } : {}) };
  } else if (raw.kubernetes?.manifests !== undefined) {
    procedure.kubernetes = { manifests: raw.kubernetes.manifests };
  }
  return procedure;
}

function createArtifact(source: YamlSource, raw: RawArtifact, index: number): ProcedureArtifact {
  const { file, line, col, path: at } = createProblem(source, ['artifacts', index, 'sha256'], '');
  return {
    name: raw.name,
    sha256: raw.sha256,
    source: raw.url !== undefined ? { url: raw.url } : { path: raw.path! },
    dest: artifactDest(raw),
    mode: raw.mode === undefined ? 0o644 : parseInt(raw.mode, 8),
    at: { file, line, col, path: at },
  };
}

function artifactDest(raw: RawArtifact): string {
  return raw.dest === undefined ? `artifacts/${raw.name}` : path.posix.normalize(raw.dest).replace(/^\.\//, '');
}

/**
 * Artefacts go to VM and local targets only: a Kubernetes target pulls images, it has no
 * release directory to put a file in. Two entries must not land on one path.
 */
function checkArtifactNames(source: YamlSource, raw: RawProcedure): Problem[] {
  const artifacts = raw.artifacts ?? [];
  if (artifacts.length === 0) return [];
  if (!raw.vm) {
    return [createProblem(source, ['artifacts'], 'artifacts are delivered to VM and local targets only, and this procedure has no vm: section; a Kubernetes procedure ships its application as an image', { path: ['artifacts'], side: 'key' })];
  }
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  artifacts.forEach((artifact, index) => {
    const dest = artifactDest(artifact);
    const earlier = seen.get(dest);
    if (earlier !== undefined) {
      problems.push(createProblem(source, ['artifacts', index, artifact.dest === undefined ? 'name' : 'dest'], `lands at ${dest} in the release, as does artifacts[${earlier}] (${artifacts[earlier]!.name}); give one a different name or dest`));
    }
    seen.set(dest, index);
  });
  return problems;
}

function checkFolderNames(source: YamlSource, raw: RawProcedure, expected: { name: string; version: string }): Problem[] {
  const problems: Problem[] = [];
  // The folders are what sites.yaml refers to; a differing name inside would make two
  // truths about which procedure a site gets.
  if (raw.name !== expected.name) {
    problems.push(createProblem(source, ['name'], `name "${raw.name}" does not match its folder "${expected.name}" (<catalogue>/<name>/<version>/procedure.yaml)`));
  }
  if (raw.version !== expected.version) {
    problems.push(createProblem(source, ['version'], `version "${raw.version}" does not match its folder "${expected.version}" (<catalogue>/<name>/<version>/procedure.yaml)`));
  }
  return problems;
}

/**
 * `values` must be a JSON Schema ajv compiles in strict mode. Meta-schema errors point at the
 * offending keyword; strict-mode errors carry a schema path we can point at too.
 */
function checkValuesSchema(source: YamlSource, raw: RawProcedure): Problem[] {
  if (raw.values === undefined) return [];
  const metaErrors = checkSchemaAgainstMeta(raw.values);
  if (metaErrors.length > 0) {
    return explainSchemaErrors(metaErrors, raw.values).map((issue) =>
      createProblem(source, ['values', ...issue.path], `not a valid JSON Schema: ${issue.message}`, {
        path: ['values', ...issue.anchor.path],
        side: issue.anchor.side,
      }),
    );
  }
  try {
    compileValuesSchema(raw.values);
    return [];
  } catch (error) {
    const message = (error as Error).message;
    const pointer = /at "#([^"]*)"/.exec(message)?.[1] ?? '';
    const path = ['values', ...parseInstancePath(pointer, raw.values)];
    return [createProblem(source, path, `not a valid JSON Schema: ${message}`, { path, side: 'key' })];
  }
}

function checkSmokeNames(source: YamlSource, raw: RawProcedure): Problem[] {
  const problems: Problem[] = [];
  const seen = new Set<string>();
  (raw.smoke ?? []).forEach((check, index) => {
    if (seen.has(check.name)) problems.push(createProblem(source, ['smoke', index, 'name'], `smoke check name "${check.name}" is used twice; results are reported by name`));
    seen.add(check.name);
  });
  return problems;
}

async function checkReferencedFiles(source: YamlSource, raw: RawProcedure, dir: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  if (!raw.vm && !raw.kubernetes) {
    problems.push(createProblem(source, [], 'needs a vm: or a kubernetes: section (or both): it must render for some kind of target'));
  }
  // Every path must really lead to a place inside this version folder, through every
  // symbolic link on the way: otherwise a bundle could carry any file of this machine.
  const check = async (field: (string | number)[], relative: string, kind: 'file' | 'directory', missing: string): Promise<boolean> => {
    const found = await resolveContainedPath(dir, relative);
    if (found.status === 'outside') {
      problems.push(createProblem(source, field, `${relative} leads outside the procedure version folder (to ${found.real}) through a symbolic link; every file of a procedure must be inside its folder`));
      return false;
    }
    if (found.status === 'missing' || found.kind !== kind) {
      problems.push(createProblem(source, field, missing));
      return false;
    }
    if (kind === 'directory') {
      const irregular = await findIrregularEntry(found.real);
      if (irregular !== undefined) {
        const what = field[1] === 'static' ? 'static files' : 'templates';
        problems.push(createProblem(source, field, `${relative}/${irregular} is a symbolic link or special file; ${what} must be regular files inside the procedure folder`));
        return false;
      }
    }
    return true;
  };
  if (raw.vm) {
    const filesDirExists = await check(['vm', 'files'], raw.vm.files, 'directory', `directory ${raw.vm.files} not found next to procedure.yaml`);
    for (const phase of ['install', 'activate'] as const) {
      const hook = raw.vm.hooks?.[phase];
      if (hook === undefined || !filesDirExists) continue;
      await check(['vm', 'hooks', phase], path.join(raw.vm.files, hook), 'file', `${phase} hook ${hook} not found in ${raw.vm.files}/ (hooks are paths inside vm.files)`);
    }
    if (raw.vm.static !== undefined) {
      await check(['vm', 'static'], raw.vm.static, 'directory', `directory ${raw.vm.static} not found next to procedure.yaml`);
    }
    if (raw.vm.cloudInit !== undefined) {
      await check(['vm', 'cloudInit'], raw.vm.cloudInit, 'file', `file ${raw.vm.cloudInit} not found next to procedure.yaml`);
    }
  }
  for (const [index, artifact] of (raw.artifacts ?? []).entries()) {
    if (artifact.path === undefined) continue;
    await check(['artifacts', index, 'path'], artifact.path, 'file', `file ${artifact.path} not found next to procedure.yaml (artifact paths are relative to it)`);
  }
  if (raw.kubernetes?.manifests !== undefined) {
    await check(['kubernetes', 'manifests'], raw.kubernetes.manifests, 'directory', `directory ${raw.kubernetes.manifests} not found next to procedure.yaml`);
  }
  const chart = raw.kubernetes?.chart;
  if (chart !== undefined) {
    // a packaged chart is one file; a chart folder must hold Chart.yaml, or helm would say so per site
    if (/\.tgz$/i.test(chart)) {
      await check(['kubernetes', 'chart'], chart, 'file', `chart archive ${chart} not found next to procedure.yaml`);
    } else if (await check(['kubernetes', 'chart'], chart, 'directory', `chart folder ${chart} not found next to procedure.yaml (a Helm chart folder, or a packaged .tgz)`)) {
      await check(['kubernetes', 'chart'], path.join(chart, 'Chart.yaml'), 'file', `${chart}/Chart.yaml not found: a chart folder holds Chart.yaml (helm create makes one)`);
    }
  }
  if (raw.kubernetes?.values !== undefined) {
    await check(['kubernetes', 'values'], raw.kubernetes.values, 'file', `values template ${raw.kubernetes.values} not found next to procedure.yaml`);
  }
  return problems;
}
