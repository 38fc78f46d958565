import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Drop } from 'liquidjs';
import YAML from 'yaml';
import { FilterInputError, formatJson, formatYaml, quoteShellWord, quoteYamlString } from '../../../src/procedure/filters.js';

/** Strings that break naive quoting in shell, YAML or JSON. */
const NASTY = [
  '',
  ' ',
  '  leading and trailing  ',
  `$(touch /tmp/pwned); 'x" \n`,
  '`id`',
  '${HOME}',
  '$HOME',
  "'",
  "''",
  "'\\''",
  '"',
  '\\',
  '\\\\n',
  'a\\',
  'line1\nline2\n',
  '\r\n',
  '\t',
  'semi;colon && pipe | amp & redirect > x < y',
  '*?[a-z]~',
  '#comment',
  '!history',
  '-n',
  '--',
  'yes',
  'no',
  'on',
  'off',
  'Null',
  'null',
  '~',
  'true',
  '1e3',
  '0x1F',
  '012',
  '.inf',
  '.nan',
  ': ',
  'key: value',
  '- item',
  '? complex',
  '&anchor',
  '*alias',
  '!tag',
  '%directive',
  '@at',
  '{flow: map}',
  '[flow, seq]',
  ',',
  '---',
  '...',
  '|',
  '>',
  'Grüße aus Kiel – Straße',
  'emoji 😀 and CJK 漢字',
  'rtl \u202e reversed',
  'zero\u200bwidth',
  'nbsp\u00a0here',
  'nel\u0085ls\u2028ps\u2029',
  'bom\ufeff',
  'bell\u0007esc\u001bdel\u007f c1\u0080\u009f',
];

/** Deterministic pseudo-random strings, so a failure reproduces. */
function generateStrings(count: number, seed: number, alphabet: string[]): string[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = '';
    const length = next() % 24;
    for (let j = 0; j < length; j++) s += alphabet[next() % alphabet.length];
    out.push(s);
  }
  return out;
}

const ALPHABET = [
  ...`'"\\$\`(){}[];|&<>*?~#!%^=+,.:- \n\r\t/abcXYZ019`.split(''),
  'ä',
  'ß',
  '€',
  '😀',
  '\u0001',
  '\u001f',
  '\u007f',
  '\u0085',
  '\u00a0',
  '\u2028',
  '\ufeff',
];
const RANDOM = generateStrings(400, 20240601, ALPHABET);

function findShells(): string[] {
  const shells = ['sh', 'bash', 'dash'].filter((s) => spawnSync(s, ['-c', 'exit 0']).status === 0);
  if (!shells.includes('sh')) throw new Error('POSIX sh not found: install dash or bash (apt-get install dash)');
  return shells;
}

describe('quoteShellWord', () => {
  const shells = findShells();

  it.each(shells)('round-trips every nasty and random string through %s byte for byte', (shell) => {
    const inputs = [...NASTY, ...RANDOM];
    // one shell run for all inputs: NUL separates outputs because no input may contain it
    const script = inputs.map((s) => `printf '%s\\0' ${quoteShellWord(s)}`).join('\n');
    const out = execFileSync(shell, ['-c', script]);
    const expected = Buffer.concat(inputs.map((s) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])])));
    expect(out.equals(expected)).toBe(true);
  });

  it.each(NASTY.filter((s) => s !== ''))('sh -c "printf %%s <escaped>" prints %j exactly', (input) => {
    const out = execFileSync('sh', ['-c', `printf %s ${quoteShellWord(input)}`]);
    expect(out.equals(Buffer.from(input, 'utf8'))).toBe(true);
  });

  it('never runs command substitutions', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ozg-shell-'));
    try {
      const marker = path.join(dir, 'pwned');
      for (const attack of [`$(touch ${marker})`, `\`touch ${marker}\``, `'; touch ${marker}; '`, `x'$(touch ${marker})'`]) {
        execFileSync('sh', ['-c', `echo ${quoteShellWord(attack)} >/dev/null`]);
      }
      expect(existsSync(marker)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('always yields one word, also for the empty string', () => {
    const inputs = [...NASTY, ...RANDOM];
    const script = inputs.map((s) => `set -- ${quoteShellWord(s)}; printf '%s\\n' "$#"`).join('\n');
    const counts = execFileSync('sh', ['-c', script]).toString().trimEnd().split('\n');
    expect(counts).toEqual(inputs.map(() => '1'));
  });

  it('quotes numbers and booleans as their text', () => {
    expect(quoteShellWord(8080)).toBe("'8080'");
    expect(quoteShellWord(true)).toBe("'true'");
    expect(quoteShellWord(-1.5)).toBe("'-1.5'");
  });

  it('rejects NUL, since no shell word can carry it', () => {
    expect(() => quoteShellWord('a\0b')).toThrow(FilterInputError);
    expect(() => quoteShellWord('a\0b')).toThrow(/NUL/);
  });

  it.each([[null], [undefined], [['a', 'b']], [{ a: 1 }]])('rejects %j', (value) => {
    expect(() => quoteShellWord(value)).toThrow(FilterInputError);
  });
});

describe('formatYaml', () => {
  const strings = [...NASTY, ...RANDOM, '\0nul', 'lone \ud800 high', 'lone \udc00 low', '\ufffe\uffff'];

  it('round-trips every string exactly, as a single-line double-quoted scalar', () => {
    for (const s of strings) {
      const text = formatYaml(s);
      expect(text).toMatch(/^"[^\n\r]*"$/);
      expect(YAML.parse(`k: ${text}`)).toEqual({ k: s });
    }
  });

  it('round-trips in every position a template puts it: list item, nested block, flow, YAML 1.1', () => {
    for (const s of strings) {
      const q = formatYaml(s);
      const doc = `items:\n  - ${q}\nnested:\n  deeper:\n    value: ${q}\nflow: [${q}, {k: ${q}}]\n`;
      const expected = { items: [s], nested: { deeper: { value: s } }, flow: [s, { k: s }] };
      const parsed = YAML.parseDocument(doc);
      expect(parsed.errors).toEqual([]);
      expect(parsed.toJS()).toEqual(expected);
      // the Kubernetes API server reads YAML 1.1; quoted strings must mean the same there
      expect(YAML.parse(doc, { version: '1.1' })).toEqual(expected);
    }
  });

  it('keeps yes/no/null/numbers-as-text strings as strings', () => {
    for (const s of ['yes', 'no', 'on', 'off', 'y', 'n', 'null', '~', 'true', 'False', '1', '0o17', '0x1F', '1_000', '.inf', '2024-01-01']) {
      expect(YAML.parse(`k: ${formatYaml(s)}`, { version: '1.1' })).toEqual({ k: s });
      expect(YAML.parse(`k: ${formatYaml(s)}`)).toEqual({ k: s });
    }
  });

  it('escapes what YAML cannot carry literally', () => {
    expect(quoteYamlString('a"b\\c\nd\te\0\u0007\u001b\u007f\u0085\u00a0\u2028\u2029\ufeff')).toBe(
      '"a\\"b\\\\c\\nd\\te\\0\\a\\e\\x7F\\N\\_\\L\\P\\uFEFF"',
    );
    expect(quoteYamlString('😀')).toBe('"😀"');
  });

  it('keeps numbers, booleans and null typed, and writes collections as flow YAML', () => {
    expect(formatYaml(8080)).toBe('8080');
    expect(formatYaml(true)).toBe('true');
    expect(formatYaml(null)).toBe('null');
    const value = { roles: ['sachbearbeitung', 'yes'], port: 8080, nested: { 'key: with colon': null, inf: Infinity }, empty: {}, list: [] };
    const text = formatYaml(value);
    expect(text).not.toContain('\n');
    expect(YAML.parse(`k: ${text}`)).toEqual({ k: value });
    expect(YAML.parse(`k: ${formatYaml([NaN, -Infinity, -0])}`).k).toEqual([NaN, -Infinity, -0]);
  });

  it('rejects drops, functions, cycles and class instances', () => {
    class Secrets extends Drop {}
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [new Secrets(), () => 1, cyclic, new Map(), undefined]) {
      expect(() => formatYaml(value)).toThrow(FilterInputError);
    }
  });

  it('allows the same object twice when it is not a cycle', () => {
    const shared = { a: 1 };
    expect(YAML.parse(`k: ${formatYaml([shared, shared])}`)).toEqual({ k: [{ a: 1 }, { a: 1 }] });
  });
});

describe('formatJson', () => {
  it('round-trips strings and structures', () => {
    for (const s of [...NASTY, ...RANDOM, '\0']) expect(JSON.parse(formatJson(s))).toBe(s);
    const value = { formIds: ['gewerbe-anmeldung'], port: 8080, ok: true, none: null, nested: { list: [1, 'two'] } };
    expect(JSON.parse(formatJson(value))).toEqual(value);
  });

  it('indents on request', () => {
    expect(formatJson({ a: 1 }, 2)).toBe('{\n  "a": 1\n}');
    expect(formatJson({ a: 1 })).toBe('{"a":1}');
  });

  it('rejects what JSON would silently change', () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    for (const value of [Infinity, NaN, { nested: [-Infinity] }, cyclic, new (class extends Drop {})(), undefined]) {
      expect(() => formatJson(value)).toThrow(FilterInputError);
    }
  });
});
