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
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function neutraliseText(text: string): string {
  return text.replace(INVISIBLE, neutraliseChar);
}

function neutraliseChar(char: string): string {
  const code = char.charCodeAt(0);
  if (code < 0x20) return String.fromCharCode(0x2400 + code);
  if (code === 0x7f) return '\u2421';
  if (code <= 0x9f) return `\\x${code.toString(16)}`;
  return `[U+${code.toString(16).toUpperCase().padStart(4, '0')}]`;
}

/**
 * JSON.stringify's text of `value` with every string (object keys too) neutralised as by
 * neutraliseText, and safe inside a `<script>` block: `<`, `>`, `&`, U+2028/2029 written as
 * `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`. One pass over the JSON text instead of a copy
 * of the model: 11,000 sites are tens of MB. An escaped backslash is matched as a pair, so the
 * literal text `\u001b` stays text. Parses back to the neutralised data.
 */
export function stringifyNeutralised(value: unknown): string {
  return JSON.stringify(value).replace(JSON_TOKEN, (token) => {
    if (token === '\\\\') return token;
    if (token.length === 6) return neutraliseChar(String.fromCharCode(parseInt(token.slice(2), 16))); // \u00XX from JSON.stringify
    if (token.length === 2) return neutraliseChar(token === '\\b' ? '\b' : token === '\\f' ? '\f' : '\r');
    if (/[<>&\u2028\u2029]/.test(token)) return `\\u${token.charCodeAt(0).toString(16).padStart(4, '0')}`;
    return JSON.stringify(neutraliseChar(token)).slice(1, -1);
  });
}

const JSON_TOKEN = /\\\\|\\u00[01][0-9a-f]|\\[bfr]|[<>&\u2028\u2029\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
