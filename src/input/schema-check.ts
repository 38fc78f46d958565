/**
 * JSON Schema checks (ajv) whose errors read like advice and point at YAML source positions.
 * Loads no ajv compiler: our own schemas are precompiled; compile-schema.ts compiles the
 * procedures' value schemas.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Problem } from '../errors.js';
import { sortProblems } from './problems.js';
import { formatSuggestion } from './suggest.js';
import { createProblem } from './yaml-source.js';
import type { Anchor, JsonPath, PathSegment, YamlSource } from './yaml-source.js';
import validateInventory from './generated/inventory-validator.js';
import validateProcedure from './generated/procedure-validator.js';

/** Keywords our schemas and procedure value schemas may use besides standard JSON Schema. */
export const OZG_KEYWORDS = {
  /** marks a value that belongs to one site: clone-procedure never copies it */
  siteSpecific: 'x-ozg-site-specific',
  /** on a site-specific value: the `facts` entry (dotted path) clone-procedure fills it from; default its own name */
  fact: 'x-ozg-fact',
  /** a human sentence ("must be ...") replacing ajv's message for that subschema */
  message: 'x-ozg-message',
} as const;

export type SchemaName = 'inventory' | 'procedure';

const PRECOMPILED: Record<SchemaName, ValidateFunction> = { inventory: validateInventory as ValidateFunction, procedure: validateProcedure as ValidateFunction };

/**
 * The validator of `schemas/<name>.schema.json`, precompiled at build time
 * (scripts/generate-validators.mjs): no ajv compiler at run time for our own schemas.
 */
export function compileSchema(name: SchemaName): ValidateFunction {
  return PRECOMPILED[name];
}

/** One schema error, explained: reported under `path`, pointing at `anchor`. */
export interface SchemaIssue {
  path: JsonPath;
  anchor: Anchor;
  message: string;
  keyword: string;
}

/** Validate the source's data and turn every error into a problem with a source position. */
export function checkAgainstSchema(source: YamlSource, validate: ValidateFunction): { problems: Problem[]; issues: SchemaIssue[] } {
  if (validate(source.data)) return { problems: [], issues: [] };
  const issues = explainSchemaErrors(validate.errors ?? [], source.data);
  return { issues, problems: sortProblems(issues.map((issue) => createProblem(source, issue.path, issue.message, issue.anchor))) };
}

/** Turn ajv errors into issues a person can act on; wrapper errors that add nothing are dropped. */
export function explainSchemaErrors(errors: ErrorObject[], data: unknown): SchemaIssue[] {
  const branches = findBranchErrors(errors);
  const issues: SchemaIssue[] = [];
  const seen = new Set<string>();
  errors.forEach((error, index) => {
    if (branches.has(index) || error.keyword === 'if' || error.keyword === 'propertyNames') return;
    const issue = explainError(error, data, errors.filter((_, other) => branches.get(other) === index));
    const key = `${issue.path.join('\u0000')}|${issue.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    issues.push(issue);
  });
  return issues;
}

/**
 * Errors from inside oneOf/anyOf branches → index of their composite error. The composite
 * names the allowed forms; its branches' errors would list each form's complaint. ajv
 * reports branch errors right before the composite, at its instance path or below; a branch
 * reached through $ref loses the composite's schema path, so position is what identifies it.
 * (`if` only says "must match then", and propertyNames repeats its inner error: both dropped.)
 */
function findBranchErrors(errors: ErrorObject[]): Map<number, number> {
  const branches = new Map<number, number>();
  errors.forEach((error, index) => {
    if (error.keyword !== 'oneOf' && error.keyword !== 'anyOf') return;
    for (let before = index - 1; before >= 0; before--) {
      if (branches.has(before)) continue; // already a branch of a nested composite
      const other = errors[before];
      const inside = other.instancePath === error.instancePath || other.instancePath.startsWith(`${error.instancePath}/`);
      if (!inside && !other.schemaPath.startsWith(`${error.schemaPath}/`)) break;
      branches.set(before, index);
    }
  });
  return branches;
}

function explainError(error: ErrorObject, data: unknown, branchErrors: ErrorObject[]): SchemaIssue {
  const at = parseInstancePath(error.instancePath, data);
  const params = error.params as Record<string, unknown>;
  const parentSchema = (error.parentSchema ?? {}) as Record<string, unknown>;
  const custom = typeof parentSchema[OZG_KEYWORDS.message] === 'string' ? (parentSchema[OZG_KEYWORDS.message] as string) : undefined;
  const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;

  if (propertyName !== undefined) {
    const path = [...at, propertyName];
    return {
      path,
      anchor: { path, side: 'key' },
      keyword: 'propertyNames',
      message: `name "${propertyName}" ${custom ?? defaultMessage(error, propertyName)}`,
    };
  }
  if (error.keyword === 'required') {
    const missing = String(params.missingProperty);
    return { path: [...at, missing], anchor: { path: at, side: 'key' }, keyword: 'required', message: `missing required field "${missing}"` };
  }
  if (error.keyword === 'additionalProperties') {
    const extra = String(params.additionalProperty);
    const path = [...at, extra];
    return { path, anchor: { path, side: 'key' }, keyword: 'additionalProperties', message: describeUnknownField(extra, parentSchema) };
  }
  let message = error.keyword === 'type' ? describeTypeError(error) : (custom ?? defaultMessage(error, error.data));
  if (!custom && (error.keyword === 'anyOf' || error.keyword === 'oneOf')) message = describeComposite(error, branchErrors) ?? message;
  return { path: at, anchor: { path: at, side: 'value' }, keyword: error.keyword, message };
}

function describeUnknownField(name: string, parentSchema: Record<string, unknown>): string {
  const properties = parentSchema.properties;
  const patterns = parentSchema.patternProperties;
  const allowed = properties && typeof properties === 'object' ? Object.keys(properties) : [];
  const described = [...allowed, ...(patterns && typeof patterns === 'object' ? Object.keys(patterns).map((pattern) => `names matching ${pattern}`) : [])];
  if (described.length === 0) return `unknown field "${name}" (no fields allowed here)`;
  return `unknown field "${name}" (allowed: ${described.join(', ')})${formatSuggestion(name, allowed)}`;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping (key: value)',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  null: 'empty',
};

function describeTypeError(error: ErrorObject): string {
  const expected = String((error.params as { type: string }).type).split(',');
  const text = `must be ${expected.map((type) => TYPE_NAMES[type] ?? type).join(' or ')} (got ${describeKind(error.data)})`;
  // YAML reads 1.10 or 0123 as numbers; the fix is quoting, which people rarely guess.
  if (expected.includes('string') && typeof error.data === 'number') return `${text}; quote it to keep it a string`;
  return text;
}

function describeKind(value: unknown): string {
  if (value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value.length > 40 ? value.slice(0, 37) + '...' : value}"`;
  return String(value);
}

/** For "one of these names, or a list of them" forms, name the allowed values of the enum branch. */
function describeComposite(error: ErrorObject, branchErrors: ErrorObject[]): string | undefined {
  const branch = branchErrors.find((other) => other.keyword === 'enum' && other.instancePath === error.instancePath);
  if (!branch) return undefined;
  const allowed = (branch.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ');
  return `must be one of ${allowed} (got ${describeKind(error.data)}), or another allowed form`;
}

const FORMAT_MESSAGES: Record<string, string> = {
  semver: 'must be a semver version like 1.2.0',
  'semver-range': 'must be a version like 1.2.0 or a semver range like ^1.2.0',
};

function defaultMessage(error: ErrorObject, value: unknown): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')} (got ${describeKind(value)})`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'pattern':
      return `must match the pattern ${String(params.pattern)}`;
    case 'format':
      return FORMAT_MESSAGES[String(params.format)] ?? `must be a valid ${String(params.format)}`;
    case 'minLength':
      return params.limit === 1 ? 'must not be empty' : (error.message ?? 'is too short');
    case 'uniqueItems':
      return `must not list the same item twice (items ${String(params.j)} and ${String(params.i)})`;
    case 'oneOf':
    case 'anyOf':
      return 'does not match any of the allowed forms';
    case 'false schema':
      return 'is not allowed here';
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}

/** ajv's JSON pointer as path segments; indices become numbers where the data is a list. */
export function parseInstancePath(pointer: string, data: unknown): PathSegment[] {
  if (pointer === '') return [];
  const path: PathSegment[] = [];
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const name = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current) && /^\d+$/.test(name)) {
      path.push(Number(name));
      current = current[Number(name)];
    } else {
      path.push(name);
      current = current && typeof current === 'object' ? (current as Record<string, unknown>)[name] : undefined;
    }
  }
  return path;
}
