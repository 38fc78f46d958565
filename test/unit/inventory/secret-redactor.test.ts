import { createSecretRedactor, formatRedactedSecret } from '../../../src/inventory/secret-redactor.js';

describe('secret redactor', () => {
  it('replaces every occurrence of every known value by «secret:NAME», longest value first', () => {
    const redactor = createSecretRedactor();
    redactor.add('short', 'pass-word');
    redactor.add('long', 'pass-word-and-more');
    expect(redactor.redact('a pass-word-and-more b pass-word c pass-word')).toBe('a «secret:long» b «secret:short» c «secret:short»');
    expect(formatRedactedSecret('x')).toBe('«secret:x»');
  });

  it('finds values anywhere: at either end, back to back, among many values sharing a prefix', () => {
    const redactor = createSecretRedactor();
    for (let i = 0; i < 50; i++) redactor.add(`s${i}`, `same-prefix-${i}-value`);
    redactor.add('other', 'other-value');
    expect(redactor.redact('same-prefix-7-valueother-value')).toBe('«secret:s7»«secret:other»');
    expect(redactor.redact('x same-prefix-49-value')).toBe('x «secret:s49»');
    expect(redactor.redact('same-prefix-4-valu')).toBe('same-prefix-4-valu');
    expect(redactor.redact('abc')).toBe('abc');
  });

  it('treats values as text, not patterns', () => {
    const redactor = createSecretRedactor();
    redactor.add('re', 'a.b*c$(x)[y]');
    expect(redactor.redact('axbbbc a.b*c$(x)[y]')).toBe('axbbbc «secret:re»');
  });

  it('redacts each longer line of a multi-line value too: output tails can start inside it', () => {
    const redactor = createSecretRedactor();
    redactor.add('key', '-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQAB\nQ==\n-----END KEY-----');
    expect(redactor.redact('...AAAAB3NzaC1yc2EAAAADAQAB\nQ==\n-----END KEY-----')).toBe('...«secret:key»\nQ==\n«secret:key»');
  });

  it('redacts the base64 and JSON-string forms too (a Secret\'s data, a quoted request body)', () => {
    const redactor = createSecretRedactor();
    const value = 'pa"ss\\word';
    redactor.add('pw', value);
    const base64 = Buffer.from(value).toString('base64');
    expect(redactor.redact(`data: ${base64} body: ${JSON.stringify({ password: value })}`)).toBe('data: «secret:pw» body: {"password":"«secret:pw»"}');
  });

  it('copies plain data with every string redacted, leaving other values alone', () => {
    const redactor = createSecretRedactor();
    const buffer = Buffer.from('secret-value');
    expect(redactor.redactDeep({ a: ['x secret-value'], n: 1, b: buffer })).toEqual({ a: ['x secret-value'], n: 1, b: buffer });
    redactor.add('s', 'secret-value');
    const input = { a: ['x secret-value'], n: 1, nested: { e: 'secret-value' }, b: buffer };
    expect(redactor.redactDeep(input)).toEqual({ a: ['x «secret:s»'], n: 1, nested: { e: '«secret:s»' }, b: buffer });
    expect(input.a[0]).toBe('x secret-value');
  });
});
