/**
 * What the report page shows of text that came from targets (smoke output, errors) or from the
 * inventory (site names, labels): a terminal escape or a bidi override there must not hide or
 * reorder what a person reads. Rendering goes through textContent (no markup is ever parsed),
 * this only makes invisible characters visible:
 * - C0 controls except newline and tab become their Unicode control pictures (ESC → ␛, CR → ␍,
 *   NUL → ␀), DEL becomes ␡;
 * - C1 controls (U+0080–U+009F, e.g. the one-byte CSI) become `\x9b`, as on the terminal;
 * - bidi embeddings, overrides, isolates and marks become `[U+202E]`, so `evil\u202Etxt.exe`
 *   cannot read as `exe.txt…`.
 */
const C0_OR_DEL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
const C1 = /[\u0080-\u009f]/g;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function neutraliseText(text: string): string {
  return text
    .replace(C0_OR_DEL, (char) => String.fromCharCode(char === '\u007f' ? 0x2421 : 0x2400 + char.charCodeAt(0)))
    .replace(C1, (char) => `\\x${char.charCodeAt(0).toString(16)}`)
    .replace(BIDI, (char) => `[U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** A copy of plain data with every string, object keys included, neutralised. */
export function neutraliseDeep<T>(value: T): T {
  return neutralise(value) as T;
}

function neutralise(value: unknown): unknown {
  if (typeof value === 'string') return neutraliseText(value);
  if (Array.isArray(value)) return value.map(neutralise);
  if (typeof value === 'object' && value !== null) {
    // no prototype: a label key `__proto__` stays a plain key
    const out = Object.create(null) as Record<string, unknown>;
    for (const [key, inner] of Object.entries(value)) out[neutraliseText(key)] = neutralise(inner);
    return out;
  }
  return value;
}
