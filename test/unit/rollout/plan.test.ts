import { planTarget } from '../../../src/rollout/plan.js';
import type { Bundle } from '../../../src/procedure/types.js';
import type { LiveRelease } from '../../../src/targets/driver.js';

describe('planTarget', () => {
  const bundle = (version: string, hash: string): Bundle => ({ site: 'kiel', environment: 'test', procedure: 'antrag', version, targetKind: 'vm', files: [], hooks: {}, smoke: [], hash });
  const live = (version: string, hash: string): LiveRelease => ({ procedure: 'antrag', version, hash, release: 'r', deployedAt: 'now' });

  it.each([
    ['install', undefined, '1.0.0', 'a'],
    ['unchanged', live('1.0.0', 'a'), '1.0.0', 'a'],
    ['upgrade', live('1.0.0', 'a'), '1.1.0', 'b'],
    ['downgrade', live('1.1.0', 'b'), '1.0.0', 'a'],
    ['change', live('1.0.0', 'a'), '1.0.0', 'c'],
  ] as const)('chooses %s', (action, current, version, hash) => {
    expect(planTarget(bundle(version, hash), current, undefined).action).toBe(action);
  });

  it('flags drift when the live marker disagrees with the ledger', () => {
    const recorded = { id: '1', time: '', actor: '', run: '', site: 'kiel', environment: 'test' as const, procedure: 'antrag', version: '1.0.0', hash: 'a', outcome: 'applied' as const, smoke: [], durationMs: 0 };
    expect(planTarget(bundle('1.0.0', 'a'), live('1.0.0', 'a'), recorded).drift).toBe(false);
    expect(planTarget(bundle('1.0.0', 'a'), live('1.0.0', 'x'), recorded).drift).toBe(true);
    expect(planTarget(bundle('1.0.0', 'a'), undefined, recorded).drift).toBe(true);
    expect(planTarget(bundle('1.0.0', 'a'), live('1.0.0', 'x'), undefined).drift).toBe(false);
  });
});
