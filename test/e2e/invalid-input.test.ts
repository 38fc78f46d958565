import path from 'node:path';
import { existsSync } from 'node:fs';
import { copyFixtureToTemp, listFixtureCases, readFixtureExpectation } from '../helpers/inventory-fixtures.js';
import { removeTemp, runOzg } from '../helpers/run-ozg.js';

/**
 * Every folder under test/fixtures/invalid is one broken inventory or template.
 * `ozg deploy` on it must name file:line:col and the field, exit 3, and record nothing.
 * Adding a case is adding a folder with sites.yaml and expect.json. A case whose defect no
 * site uses (an unused broken procedure version) stops only `validate`: its expect.json says
 * so with `"command": "validate"` (a deploy warns about it and goes on, see fleet-isolation).
 */
const cases = listFixtureCases('invalid');

/** The fake environment the fixtures' secret references resolve against. */
const env = { OZG_TEST_SECRET: 'not-a-real-secret' };

describe('invalid input', () => {
  it('has at least 20 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)('%s: exits 3 with its position, and deploys and records nothing', async (name) => {
    const expected = readFixtureExpectation<{ message: string; position: string; path?: string; command?: string }>('invalid', name);
    const dir = await copyFixtureToTemp('invalid', name);
    try {
      const run = await runOzg([expected.command ?? 'deploy', '-i', 'sites.yaml'], { cwd: dir, env });
      expect({ code: run.code }).toEqual({ code: 3 });
      const line = run.stderr.split('\n').find((l) => l.includes(expected.position + ' ') && l.includes(expected.message));
      expect({ stderr: run.stderr, found: Boolean(line) }).toEqual({ stderr: run.stderr, found: true });
      if (expected.path) expect(line).toContain(expected.path);
      expect(existsSync(path.join(dir, '.ozg/ledger.jsonl'))).toBe(false);
      expect(existsSync(path.join(dir, 'targets'))).toBe(false);
    } finally {
      await removeTemp(dir);
    }
  });
});
