/**
 * Central defaults under a site's own choice: mappings merge key by key (so a site can change
 * one nested value), anything else — scalars and lists — is replaced whole by the site.
 */
export function mergeValues(defaults: Record<string, unknown> | undefined, site: Record<string, unknown> | undefined): Record<string, unknown> {
  return mergeRecords(defaults ?? {}, site ?? {});
}

function mergeRecords(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(over)) {
    const current = merged[key];
    const next = isRecord(current) && isRecord(value) ? mergeRecords(current, value) : structuredClone(value);
    // defineProperty, not assignment: a key called __proto__ must stay plain data
    Object.defineProperty(merged, key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return merged;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
