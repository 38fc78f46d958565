/**
 * Schema defaults for site values. The renderer applies them itself so that rendering does
 * not depend on whoever merged the values before: `default` of every `properties` entry is
 * filled in where the value is absent, recursively into nested objects and array items.
 * Given values are never overwritten; `$ref`, `allOf`/`anyOf`/`oneOf` and `if/then` are not
 * followed (validation, including those, stays with the catalogue loader's ajv).
 */

type Json = Record<string, unknown>;

/** A copy of `values` with the schema's defaults filled in; the input is not modified. */
export function applyValueDefaults(schema: unknown, values: Record<string, unknown>): Record<string, unknown> {
  return fillDefaults(schema, structuredClone(values)) as Record<string, unknown>;
}

function fillDefaults(schema: unknown, value: unknown): unknown {
  if (!isPlainObject(schema)) return value;
  if (isPlainObject(value) && isPlainObject(schema.properties)) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (!isPlainObject(sub)) continue;
      if (value[key] === undefined && sub.default !== undefined) {
        // defineProperty, not assignment: a property called __proto__ must stay data
        Object.defineProperty(value, key, { value: structuredClone(sub.default), enumerable: true, writable: true, configurable: true });
      }
      if (value[key] !== undefined) value[key] = fillDefaults(sub, value[key]);
    }
  }
  if (Array.isArray(value) && isPlainObject(schema.items)) {
    return value.map((item) => fillDefaults(schema.items, item));
  }
  return value;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
