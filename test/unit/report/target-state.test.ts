import { decideTargetState, worstState, type TargetFacts } from '../../../src/report/target-state.js';
import { makeLedgerRecord } from '../../helpers/ledger-records.js';

const DESIRED = 'd'.repeat(64);
const OLD = 'o'.repeat(64);
const base: TargetFacts = { desired: '1.1.0', desiredHash: DESIRED, recorded: { version: '1.1.0', hash: DESIRED }, live: { version: '1.1.0', hash: DESIRED } };
const applied = makeLedgerRecord({ version: '1.1.0', hash: DESIRED, outcome: 'applied' });
const smokeFailed = makeLedgerRecord({
  outcome: 'smoke-failed',
  smoke: [{ name: 'health', passed: false, attempts: 1, durationMs: 5, detail: 'status 503 (expected 200)' }],
});
const holding = makeLedgerRecord({ outcome: 'rolled-back', version: '1.0.0', hash: OLD, actor: 'bob@ops', hold: { version: '1.1.0', hash: DESIRED, reason: 'login broken' } });

describe('the report state of one target', () => {
  it('is up-to-date when the live (or, offline, the recorded) bundle is the desired one', () => {
    expect(decideTargetState({ ...base, newest: applied }, true)).toEqual({ state: 'up-to-date' });
    expect(decideTargetState({ ...base, live: undefined }, false)).toEqual({ state: 'up-to-date' });
  });

  it('is failed when the newest record failed, whatever else holds, with the failed check as reason', () => {
    expect(decideTargetState({ ...base, newest: smokeFailed, unreachable: 'connection refused' }, true)).toEqual({ state: 'failed', reason: 'smoke failed: health: status 503 (expected 200)' });
    expect(decideTargetState({ ...base, newest: makeLedgerRecord({ outcome: 'apply-failed', error: 'install hook exit 1' }) }, false)).toEqual({ state: 'failed', reason: 'install hook exit 1' });
  });

  it('a newer successful record clears a failure', () => {
    expect(decideTargetState({ ...base, newest: makeLedgerRecord({ outcome: 'tested' }) }, true).state).toBe('up-to-date');
  });

  it('a rollback is held while its hold refuses the desired bundle, failed when it left no hold', () => {
    const facts = { ...base, recorded: { version: '1.0.0', hash: OLD }, live: { version: '1.0.0', hash: OLD }, newest: holding };
    expect(decideTargetState({ ...facts, hold: holding }, true)).toEqual({ state: 'held', reason: '1.1.0 held by bob@ops: login broken' });
    expect(decideTargetState(facts, true)).toEqual({ state: 'failed', reason: 'rolled back to 1.0.0' });
  });

  it('a hold on a bundle no longer desired does not hold: the target is pending', () => {
    const facts = { ...base, desiredHash: 'n'.repeat(64), recorded: { version: '1.0.0', hash: OLD }, live: { version: '1.0.0', hash: OLD }, hold: holding, newest: makeLedgerRecord({ outcome: 'skipped' }) };
    expect(decideTargetState(facts, true).state).toBe('pending');
  });

  it('is unreachable (live only) when the marker cannot be read', () => {
    const facts = { ...base, live: undefined, unreachable: 'connect ECONNREFUSED 127.0.0.1:1' };
    expect(decideTargetState(facts, true)).toEqual({ state: 'unreachable', reason: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(decideTargetState(facts, false).state).toBe('up-to-date');
  });

  it('drifts (live only) when the marker differs from the recorded release or is gone', () => {
    expect(decideTargetState({ ...base, live: { version: '0.0.1', hash: OLD } }, true)).toEqual({ state: 'drift', reason: 'live 0.0.1, recorded 1.1.0' });
    expect(decideTargetState({ ...base, live: null }, true)).toEqual({ state: 'drift', reason: 'live no release, recorded 1.1.0' });
    expect(decideTargetState({ ...base, live: { version: '0.0.1', hash: OLD } }, false).state).toBe('up-to-date');
  });

  it('is pending when a deploy would change it, also when a change never finished', () => {
    expect(decideTargetState({ ...base, recorded: { version: '1.0.0', hash: OLD }, live: { version: '1.0.0', hash: OLD } }, true).state).toBe('pending');
    expect(decideTargetState({ ...base, live: { version: '1.1.0', hash: DESIRED, incomplete: true } }, true).state).toBe('pending');
    expect(decideTargetState({ ...base, recorded: { version: '1.0.0', hash: OLD }, live: undefined }, false).state).toBe('pending');
  });

  it('is not-deployed when nothing is live (offline: nothing recorded)', () => {
    expect(decideTargetState({ desired: '1.1.0', desiredHash: DESIRED, live: null }, true)).toEqual({ state: 'not-deployed' });
    expect(decideTargetState({ desired: '1.1.0', desiredHash: DESIRED }, false)).toEqual({ state: 'not-deployed' });
  });

  it('compares versions when the desired bundle does not build here, and says why', () => {
    const facts = { desired: '1.1.0', recorded: { version: '1.1.0', hash: DESIRED }, live: { version: '1.1.0' }, inputError: 'secret token not available' };
    expect(decideTargetState(facts, true)).toEqual({ state: 'up-to-date', reason: 'secret token not available' });
    expect(decideTargetState({ ...facts, desired: '1.2.0' }, true).state).toBe('pending');
  });

  it('the worst state of several follows the order of reportStates', () => {
    expect(worstState(['up-to-date', 'pending', 'held'])).toBe('held');
    expect(worstState(['drift', 'failed', 'unreachable'])).toBe('failed');
    expect(worstState([])).toBe('not-deployed');
  });
});
