/**
 * The three escaping filters templates use for every value that lands in a script or a
 * config file (docs/procedure-format.md). Each one is total over its documented input and
 * throws FilterInputError for anything it cannot represent faithfully; the renderer turns
 * that into a RenderError carrying the template position.
 */
import { Drop } from 'liquidjs';
import { quoteShell } from '../shell-quote.js';

/** A value a filter cannot represent; always wrapped into a RenderError by the renderer. */
export class FilterInputError extends Error {
  constructor(filter: string, message: string) {
    super(`${filter}: ${message}`);
    this.name = 'FilterInputError';
  }
}

/**
 * One POSIX shell word in single quotes. Inside single quotes every byte is literal, so the
 * only character needing care is `'` itself (`'\''` closes, escapes one quote, reopens).
 * NUL is rejected: no shell word, argument or environment variable can carry it.
 */
export function quoteShellWord(value: unknown): string {
  const text = toShellText(value);
  if (text.includes('\0')) {
    throw new FilterInputError('shell', 'value contains a NUL character, which no shell word can carry');
  }
  return quoteShell(text);
}

function toShellText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new FilterInputError(
    'shell',
    `expected a string, number or boolean, got ${describe(value)}` +
      (Array.isArray(value) ? ' (use `join` for a list, or loop and quote each item)' : ''),
  );
}

/**
 * YAML text for a value: strings become one-line double-quoted scalars, numbers, booleans
 * and null plain scalars (so `port: {{ values.port | yaml }}` stays an integer), arrays and
 * objects flow collections. Every line break is escaped, so the result is a single line that
 * fits after `key: ` or `- ` at any indentation. To force a string, use `| append: "" | yaml`.
 */
export function formatYaml(value: unknown): string {
  return formatYamlNode(value, new Set());
}

function formatYamlNode(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return quoteYamlString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return '.nan';
    if (!Number.isFinite(value)) return value > 0 ? '.inf' : '-.inf';
    return Object.is(value, -0) ? '-0.0' : String(value);
  }
  if (isDate(value)) return quoteYamlString(value.toISOString());
  const collection = toCollection('yaml', value, seen);
  try {
    if (collection.items) return `[${collection.items.map((v) => formatYamlNode(v, seen)).join(', ')}]`;
    return `{${collection.entries.map(([k, v]) => `${quoteYamlString(k)}: ${formatYamlNode(v, seen)}`).join(', ')}}`;
  } finally {
    seen.delete(value as object);
  }
}

const YAML_NAMED_ESCAPES: Record<number, string> = {
  0x00: '\\0',
  0x07: '\\a',
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0b: '\\v',
  0x0c: '\\f',
  0x0d: '\\r',
  0x1b: '\\e',
  0x22: '\\"',
  0x5c: '\\\\',
  0x85: '\\N',
  0xa0: '\\_',
  0x2028: '\\L',
  0x2029: '\\P',
};

/** A double-quoted YAML 1.2 scalar; non-printable characters are escaped, never dropped. */
export function quoteYamlString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const named = YAML_NAMED_ESCAPES[code];
    if (named !== undefined) {
      out += named;
    } else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      out += '\\x' + hex(code, 2);
    } else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      out += text[i]! + text[i + 1]!;
      i++;
    } else if ((code >= 0xd800 && code <= 0xdfff) || code === 0xfeff || code === 0xfffe || code === 0xffff) {
      // lone surrogates, the BOM and non-characters are not YAML-printable
      out += '\\u' + hex(code, 4);
    } else {
      out += text[i]!;
    }
  }
  return out + '"';
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, '0');
}

/** JSON text (compact, or indented by `indent` spaces). Non-finite numbers are rejected, not nulled. */
export function formatJson(value: unknown, indent?: unknown): string {
  const space = typeof indent === 'number' && indent > 0 ? Math.min(indent, 10) : undefined;
  checkJsonValue(value, new Set());
  return JSON.stringify(value, null, space);
}

function checkJsonValue(value: unknown, seen: Set<object>): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FilterInputError('json', `${value} has no JSON form`);
    return;
  }
  if (isDate(value)) return;
  const collection = toCollection('json', value, seen);
  try {
    for (const item of collection.items ?? collection.entries.map(([, v]) => v)) checkJsonValue(item, seen);
  } finally {
    seen.delete(value as object);
  }
}

type Collection = { items: unknown[]; entries?: never } | { items?: never; entries: [string, unknown][] };

/** Arrays and plain objects only; refuses drops (notably `secrets` as a whole), functions and cycles. */
function toCollection(filter: string, value: unknown, seen: Set<object>): Collection {
  if (value instanceof Drop) {
    throw new FilterInputError(filter, 'cannot serialise this object as a whole; name one field, e.g. secrets.NAME');
  }
  if (typeof value !== 'object' || value === null) {
    throw new FilterInputError(filter, `cannot serialise ${describe(value)}`);
  }
  if (seen.has(value)) throw new FilterInputError(filter, 'value refers to itself');
  seen.add(value);
  if (Array.isArray(value)) return { items: value };
  if (!isPlainObject(value)) {
    seen.delete(value);
    throw new FilterInputError(filter, `cannot serialise ${describe(value)}`);
  }
  return { entries: Object.entries(value).filter(([, v]) => v !== undefined) };
}

/** Realm-independent (values may come from another vm context, e.g. structuredClone under jest). */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function isDate(value: unknown): value is Date {
  return Object.prototype.toString.call(value) === '[object Date]';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (undefined)';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Drop) return 'an object';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'null prototype'})`;
  return `a ${typeof value}`;
}
