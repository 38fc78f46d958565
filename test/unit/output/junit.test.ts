import { escapeXml, formatJunit } from '../../../src/output/junit.js';
import type { RolloutResult } from '../../../src/rollout/rollout.js';

describe('formatJunit', () => {
  const result: RolloutResult = {
    ok: false,
    writeFailures: [],
    sites: [
      {
        site: 'kiel',
        result: 'test-gate-failed',
        items: [
          {
            site: 'kiel',
            procedure: 'antrag',
            version: '1.1.0',
            result: 'test-gate-failed',
            environments: [
              { environment: 'test', status: 'smoke-failed', version: '1.1.0', smoke: [
                { name: 'config', passed: true, attempts: 1, durationMs: 120, detail: 'exit 0' },
                { name: 'health <http>', passed: false, attempts: 3, durationMs: 2500, detail: 'status 503 (expected 200)', output: 'body & "quotes"\u0007' },
              ] },
              { environment: 'prod', status: 'skipped', version: '1.1.0', smoke: [] },
            ],
          },
        ],
      },
      { site: 'luebeck', result: 'skipped', items: [], reason: 'failure budget exceeded' },
    ],
  };

  it('has one suite per site and environment and one case per check, with counts', () => {
    const xml = formatJunit(result, { name: 'ozg deploy', timestamp: new Date('2026-11-29T06:00:00Z') });
    expect(xml).toContain('<testsuites name="ozg deploy" tests="4" failures="1" errors="0" skipped="2" time="2.620">');
    expect(xml).toContain('<testsuite name="kiel/test" tests="2" failures="1" errors="0" skipped="0" time="2.620" timestamp="2026-11-29T06:00:00" hostname="ozg">');
    expect(xml).toContain('name="health &lt;http&gt;"');
    expect(xml).toContain('<failure message="status 503 (expected 200)" type="smoke">body &amp; &quot;quotes&quot;\uFFFD</failure>');
    expect(xml).toContain('<skipped message="not attempted: an earlier stage failed"/>');
    expect(xml).toContain('<testcase classname="luebeck" name="deploy" time="0.000">');
  });

  it('escapes what XML cannot carry', () => {
    expect(escapeXml(`<a href="x">&'\u0000`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;\uFFFD');
  });

  it('reports a target held by a rollback as skipped, saying so', () => {
    const hold = { version: '1.2.0', hash: 'b'.repeat(64), reason: 'broken form', by: 'ops@admin', since: '2026-11-29T05:00:00.000Z', at: '1.1.0', run: 'run-0' };
    const held: RolloutResult = {
      ok: true,
      writeFailures: [],
      sites: [{ site: 'kiel', result: 'unchanged', items: [{ site: 'kiel', procedure: 'antrag', version: '1.2.0', result: 'unchanged', environments: [
        { environment: 'test', status: 'held', version: '1.2.0', smoke: [], hold },
        { environment: 'prod', status: 'skipped', version: '1.2.0', smoke: [], hold },
      ] }] }],
    };
    const xml = formatJunit(held, { name: 'ozg deploy', timestamp: new Date('2026-11-29T06:00:00Z') });
    expect(xml).toContain('<skipped message="held by a rollback: 1.2.0 is not deployed again until released"/>');
    expect(xml).toContain('<skipped message="not attempted: an earlier stage is held by a rollback"/>');
  });
});
