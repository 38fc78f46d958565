/** A site's values against its procedure's `values` JSON Schema. */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { compileInOwnAjv } from '../input/compile-schema.js';
import type { Procedure } from './types.js';

// Keyed by the schema object: the catalogue loader compiles each procedure's schema once
// (to prove it compiles) and every site's check reuses that.
const validators = new WeakMap<object, ValidateFunction>();

/**
 * The validator for a values schema; throws ajv's error when the schema is not valid in
 * strict mode. Schema defaults are filled in while validating, as the renderer will, so a
 * required field that has a default is satisfied.
 */
export function compileValuesSchema(schema: Record<string, unknown>): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    // one ajv per schema: two procedure versions may carry the same $id
    validate = compileInOwnAjv(schema, { useDefaults: true });
    validators.set(schema, validate);
  }
  return validate;
}

/** The schema errors of `values` (empty when valid); `values` itself is not modified. */
export function checkValues(procedure: Procedure, values: Record<string, unknown>): ErrorObject[] {
  const validate = compileValuesSchema(procedure.valuesSchema);
  return validate(structuredClone(values)) ? [] : [...(validate.errors ?? [])];
}
