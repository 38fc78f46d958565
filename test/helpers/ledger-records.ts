import type { LedgerRecord } from '../../src/ledger/types.js';

/** A complete, valid ledger record; override what the test is about. */
export function makeLedgerRecord(overrides: Partial<LedgerRecord> = {}): LedgerRecord {
  return {
    id: 'rec-1',
    time: '2026-03-01T10:00:00.000Z',
    actor: 'alice@admin-host',
    run: 'run-1',
    site: 'kiel',
    environment: 'test',
    procedure: 'antrag-formular',
    version: '1.1.0',
    hash: 'a'.repeat(64),
    release: '20260301T100000-1.1.0',
    outcome: 'applied',
    smoke: [],
    durationMs: 1200,
    ...overrides,
  };
}
