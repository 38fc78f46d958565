/**
 * Placeholders: what `clone-procedure` writes where a site-specific value is still missing.
 * A plain string, so the inventory stays valid YAML and the schema keeps its shape, but one
 * the loader recognises and reports until someone replaces it.
 */
import type { JsonPath, PathSegment } from '../input/yaml-source.js';
import { isRecord } from './merge-values.js';

const PLACEHOLDER = /^<fill in: ([^<>\n]+)>$/;

/** `<fill in: municipalityKey>` for the value at `field` (a dotted path inside `values`). */
export function formatPlaceholder(field: string): string {
  return `<fill in: ${field}>`;
}

export function isPlaceholder(value: unknown): value is string {
  return typeof value === 'string' && PLACEHOLDER.test(value);
}

/** A placeholder found in some data, with the path that leads to it. */
export interface FoundPlaceholder {
  path: JsonPath;
  placeholder: string;
}

/** Every placeholder in `data` (mappings and lists, any depth), paths prefixed with `base`. */
export function findPlaceholders(data: unknown, base: JsonPath = []): FoundPlaceholder[] {
  const found: FoundPlaceholder[] = [];
  const visit = (value: unknown, path: PathSegment[]): void => {
    if (isPlaceholder(value)) found.push({ path, placeholder: value });
    else if (Array.isArray(value)) value.forEach((item, index) => visit(item, [...path, index]));
    else if (isRecord(value)) for (const [key, item] of Object.entries(value)) visit(item, [...path, key]);
  };
  visit(data, [...base]);
  return found;
}
