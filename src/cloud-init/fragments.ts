/**
 * A procedure's cloud-init fragment (`vm.cloudInit`): what it needs on the VM (packages, a
 * system user, files), rendered per site, checked, and merged into the seed's user-data.
 *
 * Merge rules (docs/procedure-format.md "cloud-init fragments"):
 * - `packages`: the union, the seed's own first, then each fragment's in procedure order;
 * - `users`: appended after the deploy user; a name declared twice is an error;
 * - `write_files`: appended; a path written twice is an error;
 * - `runcmd`: the seed's own set-up first (deploy root), then each fragment's commands in
 *   procedure order, then the procedures' first deploy and the provisioned marker last;
 * - any other key may come from one source only, or from several with equal values; a
 *   different value is an error naming both sources.
 */
import { InvalidInputError, type Problem } from '../errors.js';
import { createProblem, formatPath, parseYamlSource, type JsonPath, type YamlSource } from '../input/yaml-source.js';

/** One rendered fragment, parsed with source positions. */
export interface CloudInitFragment {
  /** the fragment file as errors name it, e.g. `antrag-formular/1.1.0/cloud-init.yaml` */
  file: string;
  source: YamlSource;
  config: Record<string, unknown>;
}

type Command = string | readonly string[];

/** The seed's own user-data, before fragments; `runcmd` is split where fragment commands go. */
export interface BaseUserData {
  config: Record<string, unknown>;
  /** commands before the fragments' (set -e, the deploy root) */
  runcmdHead: Command[];
  /** commands after them (first deploy, the provisioned marker) */
  runcmdTail: Command[];
}

/** Keys merged by rule; every other key is taken as a whole from one source. */
const MERGED_KEYS = new Set(['packages', 'users', 'write_files', 'runcmd']);
const BASE = 'the seed ozg writes (deploy user, host keys, first deploy)';
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/;
const PACKAGE = /^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$/;

/**
 * Parses a rendered fragment and checks the types of the keys ozg merges; `redact` (the run's
 * secret redactor) finds secret values in it. Throws InvalidInputError with file and line:
 * the template's line when the rendered line appears there exactly once (`template`, the
 * fragment's source), else the rendered line, said so.
 */
export function parseCloudInitFragment(text: string, file: string, redact: (text: string) => string, template?: string): CloudInitFragment {
  const toTemplateLines = (problems: Problem[]) => problems.map((p) => mapToTemplateLine(p, text, template));
  const secretLine = text.split('\n').findIndex((line) => redact(line) !== line);
  if (secretLine >= 0 || redact(text) !== text) {
    const line = secretLine >= 0 ? secretLine + 1 : 1;
    const names = [...new Set([...redact(text).matchAll(/«secret:([^»]+)»/g)].map((m) => m[1]))];
    const problem = { file, line, col: 1, path: '', message: `renders the value of secret ${names.join(', ')}: user-data stays readable on the VM (seed ISO, metadata service)` };
    throw new InvalidInputError(toTemplateLines([problem]), {
      hint: 'deliver secrets in a release file of the procedure (written 0600), never in its cloud-init fragment; nothing was written',
    });
  }
  const { source, problems } = parseYamlSource(text, file);
  if (problems.length > 0) throw fragmentError(toTemplateLines(problems));
  if (source.data === null) return { file, source, config: {} };
  if (!isPlainObject(source.data)) throw fragmentError(toTemplateLines([createProblem(source, [], 'a cloud-init fragment must be a mapping of cloud-config keys')]));
  const config = source.data;
  const found: Problem[] = [];
  const at = (path: JsonPath, message: string) => found.push(createProblem(source, path, message));
  checkList(config, 'packages', at, (item, path) => {
    const pair = Array.isArray(item) && item.length === 2 && item.every((part) => typeof part === 'string');
    if (typeof item === 'string' ? !PACKAGE.test(item) : !pair) at(path, 'must be a Debian package name, or a [name, version] pair');
  });
  checkList(config, 'users', at, (item, path) => {
    if (!isPlainObject(item)) return at(path, 'must be a mapping with a `name` (ozg creates its deploy user itself)');
    if (typeof item.name !== 'string' || !USER_NAME.test(item.name)) at([...path, 'name'], 'must be a user name (lower-case letters, digits, _ and -)');
  });
  checkList(config, 'write_files', at, (item, path) => {
    if (!isPlainObject(item)) return at(path, 'must be a mapping with an absolute `path`');
    if (typeof item.path !== 'string' || !item.path.startsWith('/') || item.path.endsWith('/')) at([...path, 'path'], 'must be an absolute file path');
    if (item.content !== undefined && typeof item.content !== 'string') at([...path, 'content'], 'must be a string');
  });
  checkList(config, 'runcmd', at, (item, path) => {
    const argv = Array.isArray(item) && item.length > 0 && item.every((part) => typeof part === 'string');
    if (typeof item !== 'string' && !argv) at(path, 'must be a shell line or a non-empty list of strings (argv)');
  });
  if (found.length > 0) throw fragmentError(toTemplateLines(found));
  return { file, source, config };
}

/** Liquid tags may add or remove lines: a rendered line found once in the template is reported there. */
function mapToTemplateLine(problem: Problem, text: string, template: string | undefined): Problem {
  if (template === undefined) return problem;
  const rendered = text.split('\n')[problem.line - 1];
  const matches = rendered === undefined || rendered.trim() === '' ? [] : template.split('\n').flatMap((line, i) => (line.trimEnd() === rendered.trimEnd() ? [i + 1] : []));
  if (matches.length === 1) return { ...problem, line: matches[0]! };
  if (matches.length === 0 && problem.line === 1) return problem;
  return { ...problem, message: `${problem.message} (line ${problem.line} of the fragment as rendered for this site)` };
}

/** The seed's user-data with every fragment merged in, in the given (procedure) order. */
export function mergeCloudInitFragments(base: BaseUserData, fragments: readonly CloudInitFragment[]): Record<string, unknown> {
  const problems: Problem[] = [];
  const merged: Record<string, unknown> = { ...base.config };
  const packages = new Map<string, unknown>();
  for (const item of asList(base.config.packages)) packages.set(JSON.stringify(item), item);
  // where each user, file and other key came from, to name both sources of a clash
  const users = new Map<string, string>();
  for (const user of asList(base.config.users)) if (isPlainObject(user) && typeof user.name === 'string') users.set(user.name, BASE);
  const files = new Map<string, string>();
  for (const file of asList(base.config.write_files)) if (isPlainObject(file) && typeof file.path === 'string') files.set(file.path, BASE);
  const keys = new Map<string, string>(Object.keys(base.config).map((key) => [key, BASE]));
  const allUsers = [...asList(base.config.users)];
  const allFiles = [...asList(base.config.write_files)];
  const fragmentCommands: Command[] = [];

  for (const fragment of fragments) {
    const { config, source } = fragment;
    const where = (path: JsonPath) => {
      const problem = createProblem(source, path, '');
      return `${problem.file}:${problem.line}`;
    };
    for (const item of asList(config.packages)) packages.set(JSON.stringify(item), item);
    asList(config.users).forEach((user, i) => {
      const name = (user as { name: string }).name;
      const before = users.get(name);
      if (before) problems.push(createProblem(source, ['users', i, 'name'], `user ${name} is declared by ${before} too`));
      else users.set(name, where(['users', i, 'name']));
      allUsers.push(user);
    });
    asList(config.write_files).forEach((file, i) => {
      const path = (file as { path: string }).path;
      const before = files.get(path);
      if (before) problems.push(createProblem(source, ['write_files', i, 'path'], `${path} is written by ${before} too`));
      else files.set(path, where(['write_files', i, 'path']));
      allFiles.push(file);
    });
    fragmentCommands.push(...(asList(config.runcmd) as Command[]));
    for (const [key, value] of Object.entries(config)) {
      if (MERGED_KEYS.has(key)) continue;
      const before = keys.get(key);
      if (before !== undefined && !isDeepEqual(merged[key], value)) {
        problems.push(createProblem(source, [key], `${formatPath([key])} is set to another value by ${before}: only one source may set it`, { path: [key], side: 'key' }));
        continue;
      }
      if (before === undefined) keys.set(key, where([key]));
      merged[key] = value;
    }
  }
  if (problems.length > 0) throw fragmentError(problems);
  if (packages.size > 0) {
    merged.packages = [...packages.values()];
    merged.package_update = true;
  }
  if (allUsers.length > 0) merged.users = allUsers;
  if (allFiles.length > 0) merged.write_files = allFiles;
  merged.runcmd = [...base.runcmdHead, ...fragmentCommands, ...base.runcmdTail];
  return merged;
}

function fragmentError(problems: Problem[]): InvalidInputError {
  return new InvalidInputError(problems, { hint: "fix the procedure's cloud-init fragment (vm.cloudInit), then run `ozg cloud-init` again; nothing was written" });
}

function checkList(config: Record<string, unknown>, key: string, at: (path: JsonPath, message: string) => void, each: (item: unknown, path: JsonPath) => void): void {
  const value = config[key];
  if (value === undefined) return;
  if (!Array.isArray(value)) return at([key], 'must be a list');
  value.forEach((item, i) => each(item, [key, i]));
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
