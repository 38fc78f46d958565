/**
 * Text from targets (hook and smoke output, error tails) and from ledger files reaches a
 * person's terminal: a raw ESC or CSI there sets the window title, clears the screen or
 * rewrites earlier lines. Every C0 control but newline and tab, DEL and every C1 control is
 * shown as `\xNN` instead. JSON output needs none of this: JSON.stringify escapes them.
 */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A copy of plain data with every string escaped; other values as they are. */
export function escapeControlDeep<T>(value: T): T {
  return escapeDeep(value) as T;
}

function escapeDeep(value: unknown): unknown {
  if (typeof value === 'string') return escapeControlCharacters(value);
  if (Array.isArray(value)) return value.map(escapeDeep);
  if (typeof value === 'object' && value !== null) {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = escapeDeep(inner);
    return out;
  }
  return value;
}

/**
 * JSON text with DEL and the C1 controls written as `\u00NN`: JSON.stringify escapes C0 only,
 * and `--json` output often ends up on a terminal too. Same data once parsed.
 */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
