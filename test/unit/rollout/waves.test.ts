import { checkWaves, isInShard, parseFailureBudget, parseShard, parseWaves, planWaves } from '../../../src/rollout/waves.js';
import { UsageError } from '../../../src/errors.js';
import type { Site } from '../../../src/inventory/types.js';

const sites = (n: number, labels: (i: number) => Record<string, string> = () => ({})): Site[] =>
  Array.from({ length: n }, (_, i) => ({ name: `s${i + 1}`, labels: labels(i), dataCenter: 'dc', facts: {}, setups: [] }));
const names = (waves: Site[][]) => waves.map((w) => w.map((s) => s.name));

describe('waves', () => {
  it('treats counts and percentages as cumulative', () => {
    expect(names(planWaves(sites(20), parseWaves('1,10%,50%,100%')))).toEqual([
      ['s1'],
      ['s2'],
      ['s3', 's4', 's5', 's6', 's7', 's8', 's9', 's10'],
      ['s11', 's12', 's13', 's14', 's15', 's16', 's17', 's18', 's19', 's20'],
    ]);
  });

  it('takes rings by label and puts the rest in a last wave', () => {
    const fleet = sites(5, (i) => ({ ring: i === 3 ? 'canary' : i === 4 ? 'early' : 'main' }));
    expect(names(planWaves(fleet, parseWaves('ring=canary,ring=early')))).toEqual([['s4'], ['s5'], ['s1', 's2', 's3']]);
  });

  it('drops empty waves and never repeats a site', () => {
    const waves = planWaves(sites(3), parseWaves('2,1,50%,ring=none,100%'));
    expect(names(waves)).toEqual([['s1', 's2'], ['s3']]);
  });

  it.each(['', '0', '1,,2', '150%', 'abc'])('refuses %j', (spec) => {
    expect(() => parseWaves(spec)).toThrow(UsageError);
  });
});

describe('failure budget', () => {
  it('accepts counts and percentages of the selected sites', () => {
    expect(parseFailureBudget('0', 30)).toBe(0);
    expect(parseFailureBudget('3', 30)).toBe(3);
    expect(parseFailureBudget('10%', 30)).toBe(3);
    expect(parseFailureBudget('5%', 30)).toBe(1);
    expect(() => parseFailureBudget('x', 30)).toThrow(UsageError);
  });
});

describe('shards', () => {
  it('splits sites into disjoint shards that cover every site', () => {
    const all = Array.from({ length: 200 }, (_, i) => `site-${i}`);
    const shards = [1, 2, 3, 4].map((index) => all.filter((s) => isInShard(s, { index, count: 4 })));
    expect(shards.flat().sort()).toEqual([...all].sort());
    for (const shard of shards) expect(shard.length).toBeGreaterThan(20);
  });

  it('keeps a site on its shard whatever else is in the inventory', () => {
    expect(isInShard('kiel', { index: 1, count: 3 }) || isInShard('kiel', { index: 2, count: 3 }) || isInShard('kiel', { index: 3, count: 3 })).toBe(true);
    const before = [1, 2, 3].find((index) => isInShard('kiel', { index, count: 3 }));
    expect([1, 2, 3].find((index) => isInShard('kiel', { index, count: 3 }))).toBe(before);
  });

  it.each(['0/2', '3/2', '1', 'a/b', '1/0'])('refuses %j', (text) => {
    expect(() => parseShard(text)).toThrow(UsageError);
  });
});

describe('checkWaves', () => {
  const fleet = sites(4, (i) => ({ ring: i === 0 ? 'canary' : 'main' }));

  it('accepts selector waves that match a selected site, and counts and percentages', () => {
    expect(() => checkWaves(fleet, parseWaves('ring=canary,10%,100%'), fleet)).not.toThrow();
  });

  it('refuses a wave naming a label or value no site has, with a suggestion', () => {
    expect(() => checkWaves(fleet, parseWaves('ring=canry,100%'), fleet)).toThrow(/--waves entry "ring=canry": no site has ring=canry; did you mean ring=canary\?/);
    expect(() => checkWaves(fleet, parseWaves('rnig=canary'), fleet)).toThrow(/no site has a label "rnig"; did you mean ring=canary\?/);
  });

  it('refuses a wave that matches none of the selected sites: it would be dropped', () => {
    expect(() => checkWaves(fleet.slice(1), parseWaves('ring=canary,100%'), fleet)).toThrow(/--waves entry "ring=canary" matches none of the 3 selected site\(s\)/);
  });
});
