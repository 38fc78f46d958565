import { UsageError } from '../../../src/errors.js';
import { checkSelectorLabels, matchesSelector, parseSelector, selectSites } from '../../../src/inventory/select.js';
import type { Inventory, Site } from '../../../src/inventory/types.js';

function createSite(name: string, labels: Record<string, string>): Site {
  return { name, labels, dataCenter: 'local-dc', facts: {}, setups: [] };
}

const inventory: Inventory = {
  file: '/inv/sites.yaml',
  dir: '/inv',
  catalogues: ['/inv/templates'],
  ledgerDir: '/inv/.ozg',
  concurrency: 8,
  dataCenters: new Map(),
  sites: [
    createSite('kiel', { state: 'SH', ring: 'canary' }),
    createSite('hamburg', { state: 'HH', ring: 'main' }),
    createSite('luebeck', { state: 'SH', ring: 'main' }),
    createSite('flensburg', { state: 'SH' }),
  ],
};

const names = (sites: Site[]): string[] => sites.map((site) => site.name);

describe('selectSites', () => {
  it('selects every site, in inventory order, without names or selector or with all', () => {
    expect(names(selectSites(inventory))).toEqual(['kiel', 'hamburg', 'luebeck', 'flensburg']);
    expect(names(selectSites(inventory, { all: true }))).toEqual(['kiel', 'hamburg', 'luebeck', 'flensburg']);
    expect(names(selectSites(inventory, { sites: [] }))).toEqual(['kiel', 'hamburg', 'luebeck', 'flensburg']);
  });

  it('keeps inventory order however the names are given', () => {
    expect(names(selectSites(inventory, { sites: ['luebeck', 'kiel', 'luebeck'] }))).toEqual(['kiel', 'luebeck']);
  });

  it('filters by labels: = requires the label, != also matches sites without it', () => {
    expect(names(selectSites(inventory, { selector: 'state=SH,ring!=canary' }))).toEqual(['luebeck', 'flensburg']);
    expect(names(selectSites(inventory, { selector: 'ring=main' }))).toEqual(['hamburg', 'luebeck']);
    expect(names(selectSites(inventory, { selector: 'ring=canary|main, state == SH' }))).toEqual(['kiel', 'luebeck']);
    expect(names(selectSites(inventory, { all: true, selector: 'state=HH' }))).toEqual(['hamburg']);
  });

  it('applies a selector to named sites', () => {
    expect(names(selectSites(inventory, { sites: ['kiel', 'hamburg'], selector: 'state=SH' }))).toEqual(['kiel']);
  });

  it('returns an empty list when the selector matches nothing', () => {
    expect(selectSites(inventory, { selector: 'state=BY' })).toEqual([]);
  });

  it('rejects unknown site names with a UsageError that suggests the closest name', () => {
    expect(() => selectSites(inventory, { sites: ['kiel', 'lubeck', 'nowhere'] })).toThrow(UsageError);
    expect(() => selectSites(inventory, { sites: ['kiel', 'lubeck', 'nowhere'] })).toThrow('unknown sites "lubeck"; did you mean "luebeck"?, "nowhere"');
  });

  it('rejects names together with all', () => {
    expect(() => selectSites(inventory, { sites: ['kiel'], all: true })).toThrow(UsageError);
  });
});

describe('parseSelector', () => {
  it('reads terms, operators and alternatives', () => {
    expect(parseSelector('state=SH,ring!=canary|beta')).toEqual([
      { key: 'state', operator: '=', values: ['SH'] },
      { key: 'ring', operator: '!=', values: ['canary', 'beta'] },
    ]);
  });

  it.each(['', 'state', 'state=', '=SH', 'state=SH,', 'a=b=c', 'ring=a|'])('rejects %p with a UsageError', (selector) => {
    expect(() => parseSelector(selector)).toThrow(UsageError);
  });

  it('treats a missing label as not equal', () => {
    expect(matchesSelector(createSite('x', {}), parseSelector('ring!=canary'))).toBe(true);
    expect(matchesSelector(createSite('x', {}), parseSelector('ring=canary'))).toBe(false);
  });
});

describe('checkSelectorLabels', () => {
  const check = (selector: string) => () => checkSelectorLabels(inventory.sites, parseSelector(selector), `--selector "${selector}"`);

  it('accepts labels and values some site has, with either operator', () => {
    expect(check('state=SH,ring!=canary|main')).not.toThrow();
  });

  it.each([
    ['ring=canry', /no site has ring=canry; did you mean ring=canary\?/],
    ['ring!=canry', /no site has ring=canry; did you mean ring!=canary\?/],
    ['rnig=canary', /no site has a label "rnig"; did you mean ring=canary\?/],
    ['rnig=canry', /no site has a label "rnig"; did you mean ring=canary\?/],
    ['state=BY', /no site has state=BY$/],
  ])('refuses %s as a usage error suggesting what exists', (selector, message) => {
    expect(check(selector)).toThrow(UsageError);
    expect(check(selector)).toThrow(message);
    try {
      check(selector)();
    } catch (error) {
      expect((error as UsageError).hint).toBe('labels in the inventory: state=HH|SH, ring=canary|main');
    }
  });
});
