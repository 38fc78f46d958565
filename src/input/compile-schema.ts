/**
 * ajv's compiler, for schemas known only at run time (the procedures' value schemas): its own
 * module, so commands that check only our own precompiled schemas never load it (issue 14).
 */
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { OZG_KEYWORDS } from './schema-check.js';
import { schemaFormats } from './schema-formats.js';

// ajv and ajv-formats are CommonJS; under NodeNext their default export is the module object.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
export type AjvInstance = InstanceType<typeof Ajv>;

export interface CreateAjvOptions {
  /** fill in `default`s while validating (used to produce the values templates see) */
  useDefaults?: boolean;
  /** check each schema against the meta-schema when compiling it (default true); compileInOwnAjv does that once for all */
  validateSchema?: boolean;
}

/** An ajv instance in strict mode with every error collected and our keywords and formats known. */
export function createAjv(options: CreateAjvOptions = {}): AjvInstance {
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true, useDefaults: options.useDefaults ?? false, validateSchema: options.validateSchema ?? true });
  addFormats(ajv);
  ajv.addKeyword({ keyword: OZG_KEYWORDS.siteSpecific, schemaType: 'boolean' });
  ajv.addKeyword({ keyword: OZG_KEYWORDS.fact, schemaType: 'string' });
  ajv.addKeyword({ keyword: OZG_KEYWORDS.message, schemaType: 'string' });
  for (const [name, format] of Object.entries(schemaFormats)) ajv.addFormat(name, format);
  return ajv;
}

let metaAjv: AjvInstance | undefined;

/**
 * `schema` against the JSON Schema meta-schema, on one shared instance: every ajv instance
 * compiles the meta-schema anew on first use (~40 ms), and loading a project used to pay
 * that for each bundled schema and twice per procedure version.
 */
export function checkSchemaAgainstMeta(schema: object): ErrorObject[] {
  metaAjv ??= createAjv();
  return metaAjv.validateSchema(schema) ? [] : [...(metaAjv.errors ?? [])];
}

/**
 * Compiles `schema` in an ajv instance of its own (two schemas may carry the same $id),
 * meta-schema checked by checkSchemaAgainstMeta. Throws, as ajv.compile does, for an invalid schema.
 */
export function compileInOwnAjv(schema: object, options: Omit<CreateAjvOptions, 'validateSchema'> = {}): ValidateFunction {
  const errors = checkSchemaAgainstMeta(schema);
  if (errors.length > 0) throw new Error(`schema is invalid: ${metaAjv!.errorsText(errors)}`);
  return createAjv({ ...options, validateSchema: false }).compile(schema);
}
