import { mergeValues } from '../../../src/inventory/merge-values.js';

describe('mergeValues', () => {
  it('lets every value the site sets win, key by key through nested mappings', () => {
    const central = { port: 8080, smtp: { host: 'mail.example', port: 25 }, tags: ['a', 'b'] };
    const site = { title: 'Kiel', smtp: { port: 587 }, tags: ['c'] };
    expect(mergeValues(central, site)).toEqual({ port: 8080, title: 'Kiel', smtp: { host: 'mail.example', port: 587 }, tags: ['c'] });
  });

  it('replaces a mapping by a scalar and a scalar by a mapping', () => {
    expect(mergeValues({ a: { b: 1 }, c: 1 }, { a: 2, c: { d: 1 } })).toEqual({ a: 2, c: { d: 1 } });
  });

  it('works without either side and never modifies its inputs', () => {
    const central = { smtp: { host: 'x' } };
    const site = { smtp: { port: 1 } };
    const merged = mergeValues(central, site);
    (merged.smtp as Record<string, unknown>).host = 'changed';
    expect(central).toEqual({ smtp: { host: 'x' } });
    expect(site).toEqual({ smtp: { port: 1 } });
    expect(mergeValues(undefined, undefined)).toEqual({});
    expect(mergeValues({ a: 1 }, undefined)).toEqual({ a: 1 });
  });

  it('keeps a key called __proto__ as data', () => {
    const merged = mergeValues({}, JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>);
    expect(Object.keys(merged)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
