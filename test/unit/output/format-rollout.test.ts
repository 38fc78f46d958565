import { formatRolloutSummary } from '../../../src/output/format-rollout.js';
import type { RolloutResult, SiteOutcome } from '../../../src/rollout/rollout.js';
import type { EnvironmentStatus, ItemOutcome } from '../../../src/rollout/pipeline.js';

function item(procedure: string, version: string, test: EnvironmentStatus, prod: EnvironmentStatus, error?: string): ItemOutcome {
  const env = (environment: 'test' | 'prod', status: EnvironmentStatus) => ({ environment, status, version, release: `20260301T100000Z-${procedure}`, smoke: [], ...(error && status.endsWith('failed') ? { error } : {}) });
  return { site: 'kiel', procedure, version, result: test === 'unchanged' && prod === 'unchanged' ? 'unchanged' : 'ok', environments: [env('test', test), env('prod', prod)] };
}

describe('formatRolloutSummary', () => {
  const unchangedSites: SiteOutcome[] = Array.from({ length: 40 }, (_, i) => ({
    site: `gemeinde-${String(i + 1).padStart(3, '0')}`,
    result: 'unchanged',
    items: [item('antrag-formular', '1.1.0', 'unchanged', 'unchanged')],
  }));
  const result: RolloutResult = {
    ok: false,
    writeFailures: [],
    sites: [
      { site: 'kiel', result: 'ok', items: [item('antrag-formular', '1.1.0', 'applied', 'applied'), item('dms-connector', '2.1.0', 'unchanged', 'unchanged'), item('termine', '3.0.0', 'unchanged', 'unchanged')] },
      { site: 'amt-hohner-harde', result: 'test-gate-failed', items: [item('antrag-formular', '1.1.0', 'smoke-failed', 'skipped', 'config-valid: exit 1 (expected 0)')] },
      { site: 'a-municipality-with-a-very-long-name-indeed', result: 'ok', items: [item('a-procedure-with-a-name-longer-than-the-column', '10.20.30', 'applied', 'applied')] },
      ...unchangedSites,
      { site: 'sylt', result: 'skipped', items: [], reason: 'interrupted' },
    ],
  };
  const lines = formatRolloutSummary(result).split('\n');

  it('aligns the columns of the rows of what changed, with each failure below its row', () => {
    expect(lines.slice(0, 6)).toEqual([
      'kiel                      antrag-formular 1.1.0             test: applied       prod: applied',
      'kiel                      2 procedure(s) unchanged',
      'amt-hohner-harde          antrag-formular 1.1.0             test: smoke-failed  prod: skipped',
      '    test: config-valid: exit 1 (expected 0)',
      'a-municipality-with-a-v…  a-procedure-with-a-name-longer-…  test: applied       prod: applied',
      expect.stringMatching(/^unchanged: 40 site\(s\): gemeinde-001, gemeinde-002, .*, … and \d+ more$/),
    ]);
  });

  it('collapses unchanged and unstarted sites into one line each, and every line fits 100 columns', () => {
    expect(lines.slice(6)).toEqual(['skipped (interrupted): 1 site(s): sylt', '44 site(s): 2 ok, 1 test-gate-failed, 40 unchanged, 1 skipped']);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(100);
  });
});
