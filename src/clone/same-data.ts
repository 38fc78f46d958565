import { isRecord } from '../inventory/merge-values.js';

/**
 * Equal YAML data: same scalars, lists and mappings (key order aside). Prototypes are not
 * compared, unlike util.isDeepStrictEqual: data parsed here and data cloned elsewhere may come
 * from different realms (structuredClone under jest's vm modules).
 */
export function isSameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b) || a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, index) => isSameData(item, b[index]));
  }
  if (!isRecord(a) || !isRecord(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && isSameData(a[key], b[key]));
}
