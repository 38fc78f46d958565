import { holdBlocking, HoldTracker, toHoldReason } from '../../../src/ledger/hold.js';
import { openLedger, targetKey } from '../../../src/ledger/ledger.js';
import { checkForeignRecord } from '../../../src/ledger/check-record.js';
import type { LedgerRecord } from '../../../src/ledger/types.js';
import { makeLedgerRecord } from '../../helpers/ledger-records.js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const held = { version: '1.2.0', hash: 'b'.repeat(64), reason: 'citizens report a broken form' };
const rollback = (overrides: Partial<LedgerRecord> = {}) => makeLedgerRecord({ outcome: 'rolled-back', version: '1.1.0', hold: held, ...overrides });
const key = targetKey(makeLedgerRecord());

function trackerOf(records: Array<[number, LedgerRecord]>): HoldTracker {
  const tracker = new HoldTracker();
  for (const [seq, record] of records) tracker.add(key, seq, record);
  return tracker;
}

describe('HoldTracker', () => {
  it('holds after a rollback that names a held bundle', () => {
    expect(trackerOf([[1, makeLedgerRecord()], [2, rollback()]]).active.get(key)?.hold).toEqual(held);
  });

  it('a release, an apply of any bundle, or a rollback without hold ends it', () => {
    for (const end of [makeLedgerRecord({ outcome: 'hold-released', hold: held }), makeLedgerRecord({ outcome: 'applied', hash: 'c'.repeat(64) }), makeLedgerRecord({ outcome: 'adopted' }), makeLedgerRecord({ outcome: 'rolled-back' })]) {
      expect(trackerOf([[2, rollback()], [3, end]]).active.has(key)).toBe(false);
    }
  });

  it('records that do not decide what is live (smoke-failed, skipped, tested) leave it', () => {
    for (const other of [makeLedgerRecord({ outcome: 'smoke-failed' }), makeLedgerRecord({ outcome: 'skipped' }), makeLedgerRecord({ outcome: 'tested' })]) {
      expect(trackerOf([[2, rollback()], [3, other]]).active.has(key)).toBe(true);
    }
  });

  it('is ordered by seq, not by place in the file: a merged older release does not end a newer hold', () => {
    // a shard ledger merged later carries a release of an older hold (seq 2) after the newer rollback (seq 4)
    expect(trackerOf([[4, rollback()], [2, makeLedgerRecord({ outcome: 'hold-released', hold: held })]]).active.has(key)).toBe(true);
    expect(trackerOf([[2, rollback()], [4, makeLedgerRecord({ outcome: 'hold-released', hold: held })]]).active.has(key)).toBe(false);
  });
});

describe('holdBlocking', () => {
  it('refuses exactly the held bundle, by hash', () => {
    expect(holdBlocking(rollback({ actor: 'ci@runner-3', time: '2026-03-02T08:00:00.000Z' }), held.hash)).toEqual({
      version: '1.2.0',
      hash: held.hash,
      reason: held.reason,
      by: 'ci@runner-3',
      since: '2026-03-02T08:00:00.000Z',
      at: '1.1.0',
      run: 'run-1',
    });
    // a new desired bundle (another version, or the same version with other values) goes through
    expect(holdBlocking(rollback(), 'c'.repeat(64))).toBeUndefined();
    expect(holdBlocking(undefined, held.hash)).toBeUndefined();
  });

  it('keeps a reason to one printable line', () => {
    expect(toHoldReason('smoke: exit 1\n\u001b[31mred\u001b[0m ')).toBe('smoke: exit 1 [31mred [0m');
    expect(toHoldReason('  \n')).toBe('no reason given');
    expect(toHoldReason('x'.repeat(3000))).toHaveLength(2000);
  });
});

describe('the ledger index', () => {
  it('carries the active holds, so plan and deploy see them after a restart', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-hold-'));
    try {
      const ledger = openLedger(dir);
      await ledger.append([makeLedgerRecord({ id: 'a' }), rollback({ id: 'b' }), rollback({ id: 'c', site: 'husum' }), makeLedgerRecord({ id: 'd', site: 'husum', outcome: 'hold-released', hold: held })]);
      const { holds, latest } = await ledger.index();
      expect([...holds.values()].map((r) => r.id)).toEqual(['b']);
      // a hold-released record says nothing about what is live
      expect(latest.get(targetKey({ site: 'husum', environment: 'test', procedure: 'antrag-formular' }))?.id).toBe('c');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('checkForeignRecord and holds', () => {
  const known = { sites: new Set(['kiel']), procedures: new Set(['antrag-formular']) };
  it('accepts a holding rollback and a release', () => {
    expect(checkForeignRecord(rollback(), known)).toEqual([]);
    expect(checkForeignRecord(makeLedgerRecord({ outcome: 'hold-released', hold: held }), known)).toEqual([]);
  });

  it('refuses a malformed hold, a hold on another outcome, and a release naming none', () => {
    expect(checkForeignRecord(rollback({ hold: { version: 'x', hash: 'short', reason: 'bad\u001b[2J', extra: 1 } as never }), known)).toEqual([
      'hold has an unknown field "extra"',
      'hold.version must be a semantic version',
      'hold.hash must be 64 hex digits',
      'hold.reason must be 1 to 2000 characters without control characters',
    ]);
    expect(checkForeignRecord(makeLedgerRecord({ outcome: 'applied', hold: held }), known)).toEqual(['hold is only written on rolled-back and hold-released records, not applied']);
    expect(checkForeignRecord(makeLedgerRecord({ outcome: 'hold-released' }), known)).toEqual(['a hold-released record must name the hold it released']);
  });
});
