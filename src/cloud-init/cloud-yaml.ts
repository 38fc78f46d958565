/**
 * YAML for cloud-init, which reads it with PyYAML (YAML 1.1), not with the YAML 1.2 parser we
 * write it with. The two disagree on plain scalars (`on`, `0644`, `=`, `<<`) and PyYAML treats
 * U+0085/U+2028/U+2029 as line breaks that the `yaml` package writes raw. So every string's
 * style is chosen here by one conservative rule instead of trusting the emitter:
 * plain only for simple words no YAML version resolves to anything but a string, a literal
 * block for readable multi-line text, JSON-style double quotes for everything else, and an
 * error for the few characters no style carries safely (file contents use base64 instead).
 */
import { Document, isPair, isScalar, isSeq, visit } from 'yaml';
import { UsageError } from '../errors.js';

/** Starts with a letter or slash, so it can never read as a number, date, null or merge key. */
const PLAIN_SAFE = /^[A-Za-z/][A-Za-z0-9._/@+-]*$/;
/** PyYAML 1.1 booleans and nulls (case variants it accepts), plus YAML 1.2 ones and y/n for other readers. */
const RESERVED_WORDS = new Set(['y', 'n', 'yes', 'no', 'true', 'false', 'on', 'off', 'null']);

/**
 * Characters that cannot travel in a JSON-style double-quoted scalar to PyYAML unchanged:
 * DEL and C1 controls (PyYAML rejects them raw), U+2028/U+2029/U+0085 (line breaks to
 * PyYAML, written raw by the emitter), the BOM, U+FFFE/U+FFFF and lone surrogates.
 * C0 controls are fine: JSON escapes them.
 */
const UNSAFE_IN_QUOTES = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/;
/** In a literal block additionally every C0 control except tab and newline (no escapes there). */
const UNSAFE_IN_BLOCK = /[\u0000-\u0008\u000b-\u001f]/;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** False for strings with lone surrogates, which have no UTF-8 form (String#isWellFormed is ES2024). */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** True when `text` can be written as a YAML scalar that PyYAML reads back exactly. */
export function canWriteAsYamlString(text: string): boolean {
  return !UNSAFE_IN_QUOTES.test(text) && isWellFormedText(text);
}

/**
 * `value` as a YAML document for cloud-init: map keys sorted (deterministic output), no line
 * folding, strings styled as described above. `header` (e.g. `#cloud-config`) becomes the
 * first line. Throws UsageError naming `label` and the JSON path of an unwritable string.
 */
export function stringifyCloudYaml(value: unknown, label: string, header?: string): string {
  // The 1.2 core schema, not 1.1: the emitter's 1.1 schema writes a `<<` string as a bare merge
  // key whatever style we ask for. Which strings may stay plain is decided by chooseStyle anyway.
  const doc = new Document(value, { version: '1.2', schema: 'core', merge: false, sortMapEntries: true });
  visit(doc, {
    Scalar(key, node, path) {
      if (typeof node.value !== 'string') return;
      const text = node.value;
      if (!canWriteAsYamlString(text)) {
        throw new UsageError(`${label}: the value at ${describePath(path, node, key === 'key')} contains a character cloud-init's YAML reader cannot read back (a control, line-separator or byte-order-mark character)`, {
          hint: 'remove the character from the value',
        });
      }
      node.type = chooseStyle(text, key === 'key');
    },
  });
  const body = doc.toString({ lineWidth: 0, doubleQuotedAsJSON: true, blockQuote: 'literal', indentSeq: true });
  return header === undefined ? body : `${header}\n${body}`;
}

function chooseStyle(text: string, isKey: boolean): 'PLAIN' | 'BLOCK_LITERAL' | 'QUOTE_DOUBLE' {
  if (PLAIN_SAFE.test(text) && !RESERVED_WORDS.has(text.toLowerCase())) return 'PLAIN';
  if (!isKey && text.includes('\n') && !UNSAFE_IN_BLOCK.test(text)) return 'BLOCK_LITERAL';
  return 'QUOTE_DOUBLE';
}

/** A readable location for an error (never the value itself, which may be a secret). */
function describePath(path: readonly unknown[], node: unknown, isKey: boolean): string {
  const chain = [...path, node];
  const parts: string[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isPair(parent) && isScalar(parent.key) && child !== parent.key) parts.push(String(parent.key.value));
    else if (isSeq(parent)) parts.push(`[${parent.items.indexOf(child)}]`);
  }
  const where = parts.join('.').replace(/\.\[/g, '[') || '(document)';
  return isKey ? `a key under ${where}` : where;
}
