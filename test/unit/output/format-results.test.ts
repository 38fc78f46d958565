import { formatPlanResult } from '../../../src/output/format-plan.js';
import { formatStatusResult } from '../../../src/output/format-status.js';
import { formatRollbackResult } from '../../../src/output/format-rollback.js';
import { describeLedgerMergeWarnings, formatLedgerMergeResult } from '../../../src/output/format-ledger-merge.js';
import type { TargetStatus } from '../../../src/rollout/inspect.js';
import type { LedgerMergeResult } from '../../../src/ledger/merge.js';

const hash = 'a'.repeat(64);

describe('formatPlanResult', () => {
  it('shows each target with its action, an unreadable one as unknown with why, then what to run', () => {
    const text = formatPlanResult({
      pending: 1,
      unknown: 1,
      targets: [
        { site: 'kiel', environment: 'test', procedure: 'antrag', desired: '1.1.0', plan: { action: 'upgrade', desired: { version: '1.1.0', hash }, live: { version: '1.0.0', hash, release: 'r1' }, drift: true } },
        { site: 'kiel', environment: 'prod', procedure: 'antrag', desired: '1.1.0', error: 'connection refused', unreachable: true },
      ],
    });
    expect(text.split('\n')).toEqual([
      'SITE  ENV   PROCEDURE  ACTION   LIVE   DESIRED  NOTE',
      'kiel  test  antrag     upgrade  1.0.0  1.1.0    drift: live differs from the ledger',
      'kiel  prod  antrag     unknown  -      1.1.0    connection refused',
      '1 target(s) could not be read: what a deploy would change there is unknown.',
      '1 target(s) would change. Run `ozg deploy` to apply.',
    ]);
  });
});

describe('formatStatusResult', () => {
  const target = (overrides: Partial<TargetStatus>): TargetStatus => ({
    site: 'kiel',
    environment: 'test',
    procedure: 'antrag',
    desired: '1.1.0',
    live: '1.1.0',
    liveRelease: 'r1',
    recorded: '1.1.0',
    action: 'unchanged',
    upToDate: true,
    drift: false,
    error: null,
    ...overrides,
  });

  it('says per target: up to date, pending with the action, drift, or unreachable with why', () => {
    const text = formatStatusResult({
      targets: [
        target({}),
        target({ live: null, liveRelease: null, recorded: null, action: 'install', upToDate: false }),
        target({ live: '1.0.0', drift: true, action: 'upgrade', upToDate: false }),
        target({ live: null, liveRelease: null, recorded: null, action: null, upToDate: null, drift: null, error: 'connection refused' }),
      ],
    });
    const lines = text.split('\n');
    const state = lines[0]!.indexOf('STATE');
    expect(lines.map((line) => line.slice(state))).toEqual(['STATE', 'up to date', 'pending install', 'DRIFT', 'unreachable: connection refused']);
  });
});

describe('formatRollbackResult', () => {
  it('names the target and what is live now, or why nothing was rolled back', () => {
    const live = { procedure: 'antrag', version: '1.0.0', hash, release: 'r1', deployedAt: '2026-01-01T00:00:00Z' };
    expect(formatRollbackResult({ site: 'kiel', environment: 'prod', procedure: 'antrag', status: 'rolled-back', live })).toBe('kiel/prod/antrag: rolled back to 1.0.0 (release r1)');
    expect(formatRollbackResult({ site: 'kiel', environment: 'prod', procedure: 'antrag', status: 'nothing-to-roll-back', reason: 'no previous release' })).toBe(
      'kiel/prod/antrag: nothing to roll back: no previous release',
    );
  });
});

describe('ledger merge for people', () => {
  const result: LedgerMergeResult = {
    ledger: '/work/p/.ozg/ledger.jsonl',
    added: 2,
    duplicates: 1,
    ignored: 1,
    rejected: 102,
    rejections: Array.from({ length: 100 }, (_, i) => ({ file: '/work/p/shard.jsonl', line: i + 3, problems: ['unknown site husum'] })),
    files: [{ file: '/work/p/shard.jsonl', records: 3, ignored: 1, rejected: 102, damage: { torn: [], tornCount: 0, damaged: [2], damagedCount: 1 } }],
  };

  it('shows paths relative to the working directory', () => {
    expect(formatLedgerMergeResult(result, '/work/p').split('\n')).toEqual([
      'shard.jsonl: 3 record(s), 1 unreadable line(s) skipped, 102 record(s) refused',
      '2 record(s) added to .ozg/ledger.jsonl, 1 already present',
    ]);
  });

  it('warns of damaged lines, each refused record listed, and how many more were refused', () => {
    const warnings = describeLedgerMergeWarnings(result, '/work/p');
    expect(warnings[0]).toMatch(/^shard\.jsonl: line 2 is damaged/);
    expect(warnings[1]).toBe('shard.jsonl:3: record refused, not merged: unknown site husum');
    expect(warnings).toHaveLength(1 + 100 + 1);
    expect(warnings.at(-1)).toBe('2 more record(s) refused');
  });
});
