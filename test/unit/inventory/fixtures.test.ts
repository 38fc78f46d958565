import { InvalidInputError, formatProblem } from '../../../src/errors.js';
import { loadProject } from '../../../src/inventory/load-project.js';
import { copyFixtureToTemp, listFixtureCases, readFixtureExpectation } from '../../helpers/inventory-fixtures.js';
import { removeTemp } from '../../helpers/run-ozg.js';

/**
 * Every folder under test/fixtures/invalid is one inventory (sites.yaml, plus templates/:
 * its own or test/fixtures/shared-templates) with exactly one defect; expect.json names a
 * problem that must be reported: a message substring, `file:line:col` relative to the
 * folder, and the JSON path. Every folder under test/fixtures/valid must load; its
 * expect.json lists the resolved setups as `site/procedure@version`. Adding a case is
 * adding a folder.
 */

/**
 * The fake environment secret references resolve against: the fixtures reference
 * OZG_TEST_SECRET when a secret should resolve (the same variable test/e2e sets) and any
 * other name when it should not.
 */
const FIXTURE_ENV = { OZG_TEST_SECRET: 'not-a-real-secret', HOME: '/home/fixture' };

describe('invalid inventories and templates', () => {
  const cases = listFixtureCases('invalid');

  it('cover at least 22 defects', () => {
    expect(cases.length).toBeGreaterThanOrEqual(22);
  });

  it.each(cases)('%s', async (name) => {
    const expected = readFixtureExpectation<{ message: string; position: string; path: string }>('invalid', name);
    const dir = await copyFixtureToTemp('invalid', name);
    const error = await loadProject({ inventoryPath: 'sites.yaml', cwd: dir, env: FIXTURE_ENV })
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      )
      .finally(() => removeTemp(dir));
    expect(error).toBeInstanceOf(InvalidInputError);
    const problems = (error as InvalidInputError).problems;
    const found = problems.find(
      (problem) => problem.message.includes(expected.message) && `${problem.file}:${problem.line}:${problem.col}` === expected.position && problem.path === expected.path,
    );
    // On failure the listing shows what was reported instead.
    expect({ found: Boolean(found), reported: problems.map(formatProblem) }).toEqual({ found: true, reported: problems.map(formatProblem) });
    // The secret value of the fake environment never shows up, whatever went wrong.
    expect((error as Error).message).not.toContain(FIXTURE_ENV.OZG_TEST_SECRET);
  });
});

describe('valid inventories', () => {
  it.each(listFixtureCases('valid'))('%s', async (name) => {
    const expected = readFixtureExpectation<{ items: string[] }>('valid', name);
    const dir = await copyFixtureToTemp('valid', name);
    const project = await loadProject({ inventoryPath: 'sites.yaml', cwd: dir, env: FIXTURE_ENV }).finally(() => removeTemp(dir));
    expect(project.items.map((item) => `${item.site.name}/${item.procedure.name}@${item.procedure.version}`)).toEqual(expected.items);
  });
});
