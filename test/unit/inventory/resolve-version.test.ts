import { InternalError } from '../../../src/errors.js';
import { describeUnresolvedVersion, resolveSetups, resolveVersion } from '../../../src/inventory/resolve-version.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { createCatalogue } from '../../../src/procedure/catalogue.js';
import type { Procedure } from '../../../src/procedure/types.js';

const available = ['2.1.0-rc.1', '2.0.0', '1.10.0', '1.2.0', '1.1.0', '1.0.0'];

describe('resolveVersion', () => {
  it('takes an exact version only when the catalogue has it', () => {
    expect(resolveVersion(available, '1.1.0')).toBe('1.1.0');
    expect(resolveVersion(available, '1.3.0')).toBeUndefined();
    expect(resolveVersion(available, '2.1.0-rc.1')).toBe('2.1.0-rc.1');
  });

  it('resolves a range to the newest match, comparing as semver and skipping prereleases', () => {
    expect(resolveVersion(available, '^1.0.0')).toBe('1.10.0');
    expect(resolveVersion(available, '~1.1')).toBe('1.1.0');
    expect(resolveVersion(available, '>=1.0.0 <1.5.0')).toBe('1.2.0');
    expect(resolveVersion(available, '^2')).toBe('2.0.0');
    expect(resolveVersion(available, '*')).toBe('2.0.0');
    expect(resolveVersion(available, '^3.0.0')).toBeUndefined();
  });

  it('resolves nothing for text that is no version or range', () => {
    expect(resolveVersion(available, 'latest')).toBeUndefined();
  });

  it('explains a miss with the available versions', () => {
    expect(describeUnresolvedVersion('antrag', '1.3.0', ['1.1.0', '1.0.0'])).toBe('version 1.3.0 of antrag is not in the catalogue (available: 1.1.0, 1.0.0)');
    expect(describeUnresolvedVersion('antrag', '^3', ['1.1.0'])).toBe('no version of antrag matches ^3 (available: 1.1.0)');
    expect(describeUnresolvedVersion('antrag', '^3', [])).toBe('no version of antrag matches ^3 (the catalogue has no versions of it)');
  });
});

describe('resolveSetups', () => {
  const procedure = (version: string): Procedure => ({
    name: 'antrag',
    version,
    description: '',
    dir: `/cat/antrag/${version}`,
    file: `/cat/antrag/${version}/procedure.yaml`,
    valuesSchema: { type: 'object' },
    secrets: [],
    smoke: [],
  });
  const catalogue = createCatalogue([procedure('1.0.0'), procedure('1.2.0'), procedure('1.1.0')]);
  const inventory: Inventory = {
    file: '/inv/sites.yaml',
    dir: '/inv',
    catalogues: ['/cat'],
    ledgerDir: '/inv/.ozg',
    concurrency: 8,
    dataCenters: new Map(),
    sites: [
      { name: 'kiel', labels: {}, dataCenter: 'dc', facts: {}, setups: [{ procedure: 'antrag', version: '^1.0.0', values: { a: 1 }, secrets: {} }] },
      { name: 'luebeck', labels: {}, dataCenter: 'dc', facts: {}, setups: [{ procedure: 'antrag', version: '1.0.0', values: {}, secrets: {} }] },
    ],
  };

  it('yields (site, setup, procedure) in inventory order with the resolved version', () => {
    const resolved = resolveSetups(inventory, catalogue);
    expect(resolved.map((item) => [item.site.name, item.setup.version, item.procedure.version])).toEqual([
      ['kiel', '^1.0.0', '1.2.0'],
      ['luebeck', '1.0.0', '1.0.0'],
    ]);
    expect(resolved[0].values).toEqual({ a: 1 });
  });

  it('refuses an inventory that was not validated against this catalogue', () => {
    const other = createCatalogue([procedure('1.0.0')]);
    expect(() => resolveSetups(inventory, { ...other, versions: () => [] })).toThrow(InternalError);
  });
});
