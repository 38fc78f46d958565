/**
 * Keeps resolved secret values out of everything ozg shows or writes: messages, problems,
 * events, hook and smoke output, ledger records, JUnit. Every value resolved in a run is
 * added here, and each boundary (reporter, error printer, ledger append, JUnit writer)
 * passes what it is about to write through `redact`, which puts `«secret:NAME»` in place
 * of the value.
 */

/**
 * Secret values shorter than this are refused when they are looked up: replacing every
 * occurrence of a one- or two-character value would mangle all output (and such a value is
 * guessed, not kept secret).
 */
export const MIN_SECRET_LENGTH = 8;

/** What a template or a redacted message shows instead of a secret value. */
export function formatRedactedSecret(name: string): string {
  return `«secret:${name}»`;
}

export interface SecretRedactor {
  /** remember a resolved value; from now on it is redacted as `«secret:NAME»` */
  add(name: string, value: string): void;
  /** `text` with every known secret value replaced */
  redact(text: string): string;
  /** a copy of plain data (objects, arrays) with every string redacted; other values as they are */
  redactDeep<T>(value: T): T;
}

export function createSecretRedactor(): SecretRedactor {
  // value → name; the first name a value was added under is the one shown
  const names = new Map<string, string>();
  let index: PrefixIndex | undefined;

  const redact = (text: string): string => {
    if (names.size === 0 || text === '') return text;
    index ??= buildPrefixIndex([...names.keys()]);
    const { keyLength, byPrefix } = index;
    let out = '';
    let copied = 0;
    let i = 0;
    while (i <= text.length - keyLength) {
      const match = byPrefix.get(text.slice(i, i + keyLength))?.find((value) => text.startsWith(value, i));
      if (match === undefined) {
        i += 1;
        continue;
      }
      out += text.slice(copied, i) + formatRedactedSecret(names.get(match)!);
      i += match.length;
      copied = i;
    }
    return copied === 0 ? text : out + text.slice(copied);
  };

  const redactDeep = (value: unknown): unknown => {
    if (typeof value === 'string') return redact(value);
    if (Array.isArray(value)) return value.map(redactDeep);
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) out[key] = redactDeep(inner);
      return out;
    }
    return value;
  };

  return {
    add(name, value) {
      for (const part of partsToRedact(value)) {
        if (!names.has(part)) {
          names.set(part, name);
          index = undefined;
        }
      }
    },
    redact,
    redactDeep: <T>(value: T): T => (names.size === 0 ? value : (redactDeep(value) as T)),
  };
}

/**
 * The value itself; its base64 (a Kubernetes Secret's `data`, which an API server's error
 * can quote) and its form inside a JSON string (a quoted request body); and for a
 * multi-line value (a key file, say) each of its lines of at least MIN_SECRET_LENGTH
 * characters: output is often cut to its last lines, which can start inside the value.
 */
function partsToRedact(value: string): string[] {
  if (value === '') return [];
  const parts = [value, Buffer.from(value, 'utf8').toString('base64'), JSON.stringify(value).slice(1, -1)];
  if (value.includes('\n')) {
    for (const line of value.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed.length >= MIN_SECRET_LENGTH) parts.push(trimmed);
    }
  }
  return parts;
}

/**
 * Values by their first few characters, longest first within each: a run redacts every
 * event against the values of hundreds of sites, and one regular expression alternating
 * thousands of values cost ~20 µs per string here; a lookup per position about 5 µs.
 */
interface PrefixIndex {
  keyLength: number;
  byPrefix: Map<string, string[]>;
}

function buildPrefixIndex(values: string[]): PrefixIndex {
  const keyLength = Math.min(4, ...values.map((value) => value.length));
  const byPrefix = new Map<string, string[]>();
  for (const value of [...values].sort((a, b) => b.length - a.length)) {
    const key = value.slice(0, keyLength);
    const bucket = byPrefix.get(key);
    if (bucket) bucket.push(value);
    else byPrefix.set(key, [value]);
  }
  return { keyLength, byPrefix };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
