import { copyFixtureToTemp } from '../../helpers/inventory-fixtures.js';
import { removeTemp } from '../../helpers/run-ozg.js';
import { InvalidInputError, formatProblem } from '../../../src/errors.js';
import { loadProject } from '../../../src/inventory/load-project.js';
import { findPlaceholders, formatPlaceholder, isPlaceholder } from '../../../src/inventory/placeholders.js';

describe('placeholders', () => {
  it('are recognised in any depth of data, and only in their exact form', () => {
    expect(formatPlaceholder('smtp.host')).toBe('<fill in: smtp.host>');
    expect(isPlaceholder('<fill in: domain>')).toBe(true);
    expect(isPlaceholder('see <fill in: domain> below')).toBe(false);
    expect(isPlaceholder('<b>')).toBe(false);
    expect(findPlaceholders({ a: ['x', { b: '<fill in: b>' }], c: '<fill in: c>' }, ['values'])).toEqual([
      { path: ['values', 'a', 1, 'b'], placeholder: '<fill in: b>' },
      { path: ['values', 'c'], placeholder: '<fill in: c>' },
    ]);
  });

  it('left in an inventory are reported once each, with position, as left by clone-procedure (not also as a schema mismatch)', async () => {
    const dir = await copyFixtureToTemp('invalid', 'placeholder-left');
    const error = await loadProject({ inventoryPath: 'sites.yaml', cwd: dir, env: { OZG_TEST_SECRET: 'not-a-real-secret' } })
      .catch((thrown: unknown) => thrown)
      .finally(() => removeTemp(dir));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map(formatProblem)).toEqual([
      'sites.yaml:17:28  sites.kiel.procedures.antrag-formular.values.municipalityKey  "municipalityKey" still holds the placeholder "<fill in: municipalityKey>" left by clone-procedure: replace it with this site\'s own value',
    ]);
  });

  it('do not stop a load that collects its problems', async () => {
    const dir = await copyFixtureToTemp('invalid', 'placeholder-left');
    const project = await loadProject({ inventoryPath: 'sites.yaml', cwd: dir, env: {}, checkSecrets: false, collectProblems: true }).finally(() => removeTemp(dir));
    expect(project.problems).toHaveLength(1);
    expect(project.items).toEqual([]);
    expect(project.inventory.sites.map((site) => site.name)).toEqual(['kiel']);
  });
});
