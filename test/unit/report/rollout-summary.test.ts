import { FleetLedgerCollector } from '../../../src/report/ledger-pass.js';
import { summarizeRollout } from '../../../src/report/rollout-summary.js';
import type { LedgerRecord } from '../../../src/ledger/types.js';
import { makeLedgerRecord } from '../../helpers/ledger-records.js';

const SITES = ['kiel', 'husum', 'flensburg', 'luebeck'];
const everySite = SITES.map((name, i) => ({ name, labels: { ring: i === 0 ? 'canary' : 'main' } }));

function collect(records: LedgerRecord[], sites = SITES, limit = 20) {
  const collector = new FleetLedgerCollector(new Set(sites), limit);
  for (const record of records) collector.add(record);
  return collector.finish();
}

const at = (minute: number) => `2026-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`;
const old = [makeLedgerRecord({ id: 'o1', run: 'run-old', site: 'kiel', time: at(0) }), makeLedgerRecord({ id: 'o2', run: 'run-old', site: 'husum', time: at(1) })];
const newest = [
  makeLedgerRecord({ id: 'n1', run: 'run-new', actor: 'ci@runner', site: 'kiel', time: at(10) }),
  makeLedgerRecord({ id: 'n2', run: 'run-new', site: 'husum', time: at(11), environment: 'test' }),
  makeLedgerRecord({ id: 'n3', run: 'run-new', site: 'husum', time: at(12), environment: 'prod', outcome: 'smoke-failed', smoke: [{ name: 'health', passed: false, attempts: 1, durationMs: 1, detail: 'status 503 with token s3cr3t-value' }] }),
  makeLedgerRecord({ id: 'n4', run: 'run-new', site: 'flensburg', time: at(13), outcome: 'apply-failed', error: 'install hook failed' }),
  makeLedgerRecord({ id: 'n5', run: 'run-new', site: 'luebeck', time: at(14), outcome: 'skipped' }),
];

describe('the last rollout of the report', () => {
  it('is the run with the newest record, even when its records are interleaved with an older run', () => {
    const fleet = collect([newest[0]!, ...old, ...newest.slice(1)]);
    const summary = summarizeRollout(fleet.lastRun!, { redact: (text) => text.replace('s3cr3t-value', '«secret:token»'), everySite });
    expect(summary).toEqual({
      run: 'run-new',
      actor: 'ci@runner',
      started: at(10),
      finished: at(14),
      durationMs: 4 * 60_000,
      sites: 4,
      targets: 5,
      outcomes: { applied: 2, 'smoke-failed': 1, 'apply-failed': 1, skipped: 1 },
      failures: [
        { site: 'husum', procedure: 'antrag-formular', environment: 'prod', reason: 'smoke failed: health: status 503 with token «secret:token»' },
        { site: 'flensburg', procedure: 'antrag-formular', environment: 'test', reason: 'install hook failed' },
      ],
      waves: [],
    });
  });

  it('names the waves of its rollout state, each with its sites and failures', () => {
    const fleet = collect(newest);
    const rollout = { run: 'run-new', startedAt: at(10), plan: { sites: [], waves: 'ring=canary,2,ring=nowhere' }, done: [] };
    expect(summarizeRollout(fleet.lastRun!, { redact: (t) => t, everySite, rollout }).waves).toEqual([
      { name: 'ring=canary', sites: 1, failed: 0 },
      { name: '2', sites: 1, failed: 1 },
      { name: 'rest', sites: 2, failed: 1 },
    ]);
    // another run's state names no waves of this one
    expect(summarizeRollout(fleet.lastRun!, { redact: (t) => t, everySite, rollout: { ...rollout, run: 'run-old' } }).waves).toEqual([]);
  });

  it('counts only the selected sites, and there is none without records', () => {
    expect(collect(newest, ['kiel']).lastRun!.sites.size).toBe(1);
    expect(collect(newest, ['nowhere']).lastRun).toBeUndefined();
  });
});

describe('the ledger pass of the report', () => {
  it("keeps each site's newest records, newest first, at most the limit", () => {
    const records = Array.from({ length: 50 }, (_, i) => makeLedgerRecord({ id: `r${i}`, seq: i + 1, time: at(i) }));
    const fleet = collect(records, SITES, 3);
    expect(fleet.timelines.get('kiel')!.map((r) => r.id)).toEqual(['r49', 'r48', 'r47']);
  });

  it("keeps each target's newest record in causal order (seq), not by clock", () => {
    const later = makeLedgerRecord({ id: 'late-clock', seq: 1, time: at(59), outcome: 'smoke-failed' });
    const fixed = makeLedgerRecord({ id: 'fixed', seq: 2, time: at(1), outcome: 'applied' });
    const fleet = collect([fixed, later]);
    expect([...fleet.newest.values()].map((r) => r.id)).toEqual(['fixed']);
  });
});
