import { checkCanaryPassed, planFleetShare, splitFailureBudget, type CanaryCheckDeps } from '../../../src/rollout/canary.js';
import { isInShard } from '../../../src/rollout/waves.js';
import { CanaryNotPassedError, UsageError } from '../../../src/errors.js';
import type { ResolvedSetup, Site } from '../../../src/inventory/types.js';
import type { Bundle } from '../../../src/procedure/types.js';
import { makeLedgerRecord } from '../../helpers/ledger-records.js';

const fleet = (n: number): Site[] => Array.from({ length: n }, (_, i) => ({ name: `s${i + 1}`, labels: {}, dataCenter: 'dc', facts: {}, setups: [] }));
const names = (sites: Site[]) => sites.map((s) => s.name);

describe('splitFailureBudget', () => {
  it.each([
    [2, [5, 5, 5, 4], [1, 1, 0, 0]],
    [2, [3, 6, 6, 4], [0, 1, 1, 0]],
    [0, [5, 5], [0, 0]],
    [10, [1, 2, 7], [1, 2, 7]],
    [3, [0, 0, 9], [0, 0, 3]],
    [5, [0, 0], [0, 0]],
  ])('shares a budget of %i over shards of %j sites as %j', (budget, sizes, shares) => {
    expect(splitFailureBudget(budget, sizes)).toEqual(shares);
  });

  it('always adds up to the budget when there are sites', () => {
    for (let budget = 0; budget < 30; budget += 1) {
      for (const sizes of [[1, 1, 1], [10, 3, 7, 1], [100, 1]]) expect(splitFailureBudget(budget, sizes).reduce((a, b) => a + b, 0)).toBe(budget);
    }
  });
});

describe('planFleetShare', () => {
  const sites = fleet(40);

  it('the canary stage deploys the first wave of the whole fleet with the whole budget', () => {
    const share = planFleetShare(sites, { stage: 'canary', waves: '2,10%,100%', maxFailures: '5%' });
    expect(names(share.sites)).toEqual(['s1', 's2']);
    expect(names(share.canary)).toEqual(['s1', 's2']);
    expect(share.maxFailures).toBe(2);
    expect(share.waves?.map((w) => w.length)).toEqual([2, 2, 36]);
  });

  it('the shards after the canary split the other sites and the fleet budget, each computing the same split', () => {
    const shares = [1, 2, 3, 4].map((index) => planFleetShare(sites, { stage: 'after-canary', waves: '2,10%,100%', shard: `${index}/4`, maxFailures: '2' }));
    const deployed = shares.flatMap((s) => names(s.sites));
    expect([...deployed].sort()).toEqual(names(sites.slice(2)).sort());
    expect(new Set(deployed).size).toBe(deployed.length);
    for (const [i, share] of shares.entries()) {
      expect(names(share.canary)).toEqual(['s1', 's2']);
      expect(share.sites.every((s) => isInShard(s.name, { index: i + 1, count: 4 }))).toBe(true);
      expect(share.budgetNote).toContain(`shard ${i + 1}/4`);
    }
    expect(shares.reduce((n, s) => n + s.maxFailures!, 0)).toBe(2);
    expect(new Set(shares.map((s) => s.budgetNote!.replace(/^failure budget: \d+ .*?\(/, ''))).size).toBe(1);
  });

  it('after the canary without shards, one job deploys every later wave with the whole budget', () => {
    const share = planFleetShare(sites, { stage: 'after-canary', waves: '1,100%', maxFailures: '3' });
    expect(share.sites).toHaveLength(39);
    expect(share.maxFailures).toBe(3);
    expect(share.budgetNote).toBeUndefined();
  });

  it('--shard with a budget and no waves shares the budget too', () => {
    const shares = [1, 2].map((index) => planFleetShare(sites, { shard: `${index}/2`, maxFailures: '3' }).maxFailures!);
    expect(shares[0]! + shares[1]!).toBe(3);
  });

  it.each([
    [{ stage: 'canary' as const }, /--canary-only needs --waves/],
    [{ stage: 'after-canary' as const, shard: '1/2' }, /--after-canary needs --waves/],
    [{ stage: 'canary' as const, waves: '1,100%', shard: '1/2' }, /takes no --shard/],
    [{ waves: '1,100%', shard: '1/2' }, /would run a canary in every shard/],
  ])('refuses %j', (options, message) => {
    expect(() => planFleetShare(sites, options)).toThrow(UsageError);
    expect(() => planFleetShare(sites, options)).toThrow(message);
  });
});

describe('checkCanaryPassed', () => {
  const site = fleet(1)[0]!;
  const item = { site, procedure: { name: 'probe', version: '1.1.0' } } as unknown as ResolvedSetup;
  const deps = (records: Record<string, ReturnType<typeof makeLedgerRecord> | undefined>): CanaryCheckDeps => ({
    environmentsOf: () => ['test', 'prod'],
    renderBundle: async (_item, environment) => ({ version: '1.1.0', hash: environment === 'test' ? 'a'.repeat(64) : 'b'.repeat(64) }) as Bundle,
    recorded: (key) => records[key.environment],
  });

  it('passes when every canary target last applied exactly the desired bundle', async () => {
    await expect(
      checkCanaryPassed([item], deps({ test: makeLedgerRecord({ hash: 'a'.repeat(64) }), prod: makeLedgerRecord({ hash: 'b'.repeat(64), outcome: 'adopted' }) })),
    ).resolves.toBeUndefined();
  });

  it('refuses (exit 12) naming each target that is missing, at another bundle or rolled back', async () => {
    const check = checkCanaryPassed([item], deps({ test: makeLedgerRecord({ hash: 'c'.repeat(64), version: '1.0.0' }), prod: undefined }));
    await expect(check).rejects.toBeInstanceOf(CanaryNotPassedError);
    await expect(check).rejects.toMatchObject({
      exitCode: 12,
      message: expect.stringContaining("s1/test/probe: the ledger's last release is 1.0.0 (applied, bundle cccccccc), not the desired 1.1.0 (bundle aaaaaaaa)"),
    });
    await expect(check).rejects.toThrow('s1/prod/probe: no release recorded in the ledger (desired 1.1.0)');
    const rolledBack = checkCanaryPassed([item], deps({ test: makeLedgerRecord({ hash: 'a'.repeat(64) }), prod: makeLedgerRecord({ hash: 'b'.repeat(64), outcome: 'rolled-back' }) }));
    await expect(rolledBack).rejects.toThrow(/s1\/prod\/probe: .*rolled-back/);
  });
});
