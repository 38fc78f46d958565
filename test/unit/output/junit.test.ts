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
});
