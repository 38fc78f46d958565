import { ExitCode, RecordWriteError, UnreachableError } from '../../../src/errors.js';
import type { DataCenter, EnvironmentName, EnvironmentSpec, Inventory, ResolvedSetup, Site } from '../../../src/inventory/types.js';
import type { Bundle } from '../../../src/procedure/types.js';
import type { EnvironmentOutcome, PipelineDeps, RecordInput } from '../../../src/rollout/pipeline.js';
import { exitCodeForRollout, runRollout, type RolloutOptions, type RolloutResult, type SiteOutcome } from '../../../src/rollout/rollout.js';
import { FakeTarget } from '../../helpers/fake-target.js';

type RolloutEvent = Parameters<PipelineDeps['reporter']['emit']>[0];

/**
 * The scheduler against fake targets: every site gets a FakeTarget per environment, and
 * each apply waits a moment while it counts what else is applying, per data center and
 * overall, so a limit that lets one site too many through shows up in `peak`.
 */
function fleet(dataCenters: Array<{ name: string; sites: string[]; concurrency?: Partial<Record<EnvironmentName, number>> }>) {
  const sites: Site[] = dataCenters.flatMap((dc) => dc.sites.map((name) => ({ name, labels: {}, dataCenter: dc.name, facts: {}, setups: [] })));
  const inventory: Inventory = {
    file: '/fleet/sites.yaml',
    dir: '/fleet',
    catalogues: [],
    ledgerDir: '/fleet/.ozg',
    concurrency: 10,
    dataCenters: new Map(
      dataCenters.map((dc): [string, DataCenter] => {
        const spec = (name: EnvironmentName): EnvironmentSpec => ({ name, root: `/fleet/${dc.name}/${name}`, ...(dc.concurrency?.[name] ? { concurrency: dc.concurrency[name] } : {}) });
        return [dc.name, { name: dc.name, kind: 'local', environments: { test: spec('test'), prod: spec('prod') }, keepReleases: 3 }];
      }),
    ),
    sites,
  };
  const items: ResolvedSetup[] = sites.map((site) => ({
    site,
    setup: { procedure: 'antrag', version: '1.0.0', values: {}, secrets: {} },
    procedure: { name: 'antrag', version: '1.0.0', description: '', dir: '/x', file: '/x/procedure.yaml', valuesSchema: {}, secrets: [], smoke: [] },
    values: {},
  }));

  const running = { overall: 0, byDataCenter: new Map<string, number>() };
  const peak = { overall: 0, byDataCenter: new Map<string, number>() };
  /** sites applying at the moment the overall peak was first reached */
  let atPeak: string[] = [];
  const applying = new Set<string>();
  const targets = new Map<string, FakeTarget>();
  const targetOf = (site: string, environment: EnvironmentName): FakeTarget => {
    const key = `${site}/${environment}`;
    let target = targets.get(key);
    if (!target) {
      target = new FakeTarget(key);
      const dc = sites.find((s) => s.name === site)!.dataCenter;
      target.beforeApply = async () => {
        running.overall += 1;
        running.byDataCenter.set(dc, (running.byDataCenter.get(dc) ?? 0) + 1);
        applying.add(site);
        if (running.overall > peak.overall) atPeak = [...applying].sort();
        peak.overall = Math.max(peak.overall, running.overall);
        peak.byDataCenter.set(dc, Math.max(peak.byDataCenter.get(dc) ?? 0, running.byDataCenter.get(dc)!));
        // long enough for every site the limiters wrongly let through to have started too
        await new Promise((resolve) => setTimeout(resolve, 5));
        applying.delete(site);
        running.byDataCenter.set(dc, running.byDataCenter.get(dc)! - 1);
        running.overall -= 1;
      };
      targets.set(key, target);
    }
    return target;
  };
  const records: RecordInput[] = [];
  const events: RolloutEvent[] = [];
  const deps: PipelineDeps = {
    async renderBundle(item: ResolvedSetup, environment: EnvironmentName): Promise<Bundle> {
      return {
        site: item.site.name,
        environment,
        procedure: 'antrag',
        version: item.procedure.version,
        targetKind: 'vm',
        files: [],
        hooks: {},
        smoke: [{ name: 'ok', command: 'true' }],
        hash: `${item.site.name}-${environment}-${item.procedure.version}`,
      };
    },
    async driver(site, environment) {
      return targetOf(site.name, environment);
    },
    recorded: () => undefined,
    async record(record) {
      records.push(record);
    },
    reporter: { emit: (event) => events.push(event), result() {}, close() {} },
    clock: { now: () => new Date('2026-11-29T05:00:00Z'), monotonicMs: () => 0 },
  };
  const options = (overrides: Partial<RolloutOptions> = {}): RolloutOptions => ({ concurrency: 10, environmentsOf: () => ['test', 'prod'], ...overrides });
  const siteNamed = (name: string): Site => sites.find((s) => s.name === name)!;
  const run = (overrides: Partial<RolloutOptions> = {}) => runRollout(inventory, items, options(overrides), deps);
  return { inventory, items, deps, records, events, peak, atPeak: () => atPeak, target: targetOf, site: siteNamed, run };
}

const resultsOf = (result: RolloutResult): string[] => result.sites.map((s) => `${s.site}:${s.result}`);

describe('runRollout limits', () => {
  it('never runs more sites of a data center at once than its environments allow, and does reach that limit', async () => {
    const f = fleet([
      { name: 'small', sites: ['s1', 's2', 's3', 's4', 's5'], concurrency: { test: 2, prod: 2 } },
      { name: 'big', sites: ['b1', 'b2', 'b3', 'b4'] },
    ]);
    const result = await f.run({ concurrency: 10 });
    expect(result.ok).toBe(true);
    expect(f.peak.byDataCenter.get('small')).toBe(2);
    // no limit of its own: every site of the big data center at once
    expect(f.peak.byDataCenter.get('big')).toBe(4);
  });

  it('takes the smallest limit of the environments a site moves through', async () => {
    const f = fleet([{ name: 'small', sites: ['s1', 's2', 's3', 's4'], concurrency: { test: 3, prod: 1 } }]);
    await f.run();
    expect(f.peak.byDataCenter.get('small')).toBe(1);
  });

  it('holds the overall limit across data centers', async () => {
    const f = fleet([
      { name: 'a', sites: ['a1', 'a2', 'a3'] },
      { name: 'b', sites: ['b1', 'b2', 'b3'] },
    ]);
    const result = await f.run({ concurrency: 3 });
    expect(resultsOf(result)).toEqual(['a1:ok', 'a2:ok', 'a3:ok', 'b1:ok', 'b2:ok', 'b3:ok']);
    expect(f.peak.overall).toBe(3);
  });

  it('lets a site of another data center run while sites wait for a busy one: a queued site holds no overall slot', async () => {
    const f = fleet([
      { name: 'small', sites: ['s1', 's2', 's3'], concurrency: { test: 1, prod: 1 } },
      { name: 'big', sites: ['b1'] },
    ]);
    await f.run({ concurrency: 2 });
    expect(f.peak.overall).toBe(2);
    expect(f.atPeak()).toEqual(['b1', 's1']);
  });
});

describe('runRollout waves and the failure budget', () => {
  it('finishes each wave before the next starts', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b', 'c'] }]);
    const result = await f.run({ waves: [[f.site('a'), f.site('b')], [f.site('c')]] });
    expect(resultsOf(result)).toEqual(['a:ok', 'b:ok', 'c:ok']);
    const order = f.events.filter((e) => e.type === 'wave-started' || e.type === 'site-started' || e.type === 'site-finished').map((e) => ('wave' in e ? `wave ${e.wave}` : `${e.type} ${'site' in e ? e.site : ''}`));
    expect(order.indexOf('wave 2')).toBeGreaterThan(Math.max(order.indexOf('site-finished a'), order.indexOf('site-finished b')));
    expect(order.indexOf('site-started c')).toBeGreaterThan(order.indexOf('wave 2'));
  });

  it('without a budget, a failed site never stops the others', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b', 'c'] }]);
    f.target('a', 'prod').applyError = new Error('install hook failed');
    const result = await f.run({ waves: [[f.site('a')], [f.site('b')], [f.site('c')]] });
    expect(resultsOf(result)).toEqual(['a:failed', 'b:ok', 'c:ok']);
    expect(result.stopped).toBeUndefined();
    expect(exitCodeForRollout(result)).toBe(ExitCode.deployFailed);
  });

  it('with --max-failures 0, a test gate failure skips the later waves and leaves their targets untouched (exit 5)', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b', 'c'] }]);
    f.target('a', 'test').smokePasses = false;
    const result = await f.run({ maxFailures: 0, waves: [[f.site('a')], [f.site('b')], [f.site('c')]] });
    expect(resultsOf(result)).toEqual(['a:test-gate-failed', 'b:skipped', 'c:skipped']);
    expect(result.ok).toBe(false);
    expect(result.stopped).toBe('failure budget exceeded: 1 site(s) failed, --max-failures 0');
    expect(result.sites[1]!.reason).toBe(result.stopped);
    for (const site of ['b', 'c']) for (const environment of ['test', 'prod'] as const) expect(f.target(site, environment).calls).toEqual([]);
    expect(f.target('a', 'prod').calls).toEqual(['live']);
    expect(exitCodeForRollout(result)).toBe(ExitCode.testGateFailed);
  });

  it('tolerates failures up to the budget and skips the sites not yet started once it is exceeded', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b', 'c', 'd', 'e'] }]);
    f.target('a', 'test').applyError = new Error('install hook failed');
    f.target('c', 'prod').applyError = new Error('install hook failed');
    // one site at a time, so "not yet started" is well defined
    const result = await f.run({ concurrency: 1, maxFailures: 1 });
    expect(resultsOf(result)).toEqual(['a:failed', 'b:ok', 'c:failed', 'd:skipped', 'e:skipped']);
    expect(result.stopped).toBe('failure budget exceeded: 2 site(s) failed, --max-failures 1');
    expect(f.target('d', 'test').calls).toEqual([]);
    expect(exitCodeForRollout(result)).toBe(ExitCode.deployFailed);
  });

  it('lets sites already running finish when the budget runs out', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b'] }]);
    f.target('a', 'test').applyError = new Error('install hook failed');
    const result = await f.run({ concurrency: 2, maxFailures: 0 });
    expect(resultsOf(result)).toEqual(['a:failed', 'b:ok']);
    expect(f.target('b', 'prod').releases).toHaveLength(1);
  });
});

describe('runRollout write failures', () => {
  it('a record it cannot write stops the rollout: later sites skipped, the lost line kept, exit 4', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b', 'c'] }]);
    const record = f.deps.record;
    f.deps.record = async (input) => {
      if (input.site === 'a' && input.environment === 'prod') throw new RecordWriteError('/fleet/.ozg/ledger.jsonl', 'ENOSPC: no space left on device', { lines: ['{"site":"a"}'] });
      await record(input);
    };
    const result = await f.run({ concurrency: 1 });
    expect(resultsOf(result)).toEqual(['a:ok', 'b:skipped', 'c:skipped']);
    expect(result.writeFailures).toEqual([{ file: '/fleet/.ozg/ledger.jsonl', error: 'ENOSPC: no space left on device', lines: ['{"site":"a"}'] }]);
    expect(result.stopped).toBe('stopped: could not write /fleet/.ozg/ledger.jsonl (ENOSPC: no space left on device)');
    expect(f.target('b', 'test').calls).toEqual([]);
    expect(f.events).toContainEqual({ type: 'write-failed', file: '/fleet/.ozg/ledger.jsonl', error: 'ENOSPC: no space left on device', lines: ['{"site":"a"}'] });
    expect(exitCodeForRollout(result)).toBe(ExitCode.deployFailed);
  });

  it('a state file onSiteFinished cannot write stops it the same way', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b'] }]);
    const finished: string[] = [];
    const result = await f.run({
      concurrency: 1,
      onSiteFinished(outcome, rollout) {
        finished.push(outcome.site);
        rollout.writeFailed(new RecordWriteError('/fleet/.ozg/rollout.json', 'EIO: i/o error'));
      },
    });
    expect(resultsOf(result)).toEqual(['a:ok', 'b:skipped']);
    // a skipped site changes nothing, so there is nothing new to keep
    expect(finished).toEqual(['a']);
    expect(result.writeFailures.map((w) => w.file)).toEqual(['/fleet/.ozg/rollout.json']);
    expect(f.target('b', 'test').calls).toEqual([]);
    expect(exitCodeForRollout(result)).toBe(ExitCode.deployFailed);
  });

  it('an unreachable target and a failed write: the write decides (exit 4, not 6)', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b'] }]);
    f.target('a', 'test').applyError = new UnreachableError('127.0.0.9', 'connection refused');
    const result = await f.run({
      concurrency: 1,
      onSiteFinished(outcome, rollout) {
        if (outcome.site === 'a') rollout.writeFailed(new RecordWriteError('/fleet/.ozg/rollout.json', 'EIO: i/o error'));
      },
    });
    expect(resultsOf(result)).toEqual(['a:failed', 'b:skipped']);
    expect(exitCodeForRollout(result)).toBe(ExitCode.deployFailed);
  });
});

describe('exitCodeForRollout: the worst outcome decides', () => {
  const environment = (status: EnvironmentOutcome['status'], unreachable = false): EnvironmentOutcome => ({ environment: 'test', status, version: '1.0.0', smoke: [], ...(unreachable ? { unreachable } : {}) });
  const site = (name: string, result: SiteOutcome['result'], environments: EnvironmentOutcome[] = []): SiteOutcome => ({
    site: name,
    result,
    items: [{ site: name, procedure: 'antrag', version: '1.0.0', result: result === 'skipped' ? 'unchanged' : result, environments }],
  });
  const unreachable = (name: string) => site(name, 'failed', [environment('apply-failed', true)]);
  const applyFailed = (name: string) => site(name, 'failed', [environment('applied'), { ...environment('apply-failed'), environment: 'prod' }]);
  const prodSmokeFailed = (name: string) => site(name, 'failed', [environment('applied'), { ...environment('smoke-failed'), environment: 'prod' }]);
  const gateFailed = (name: string) => site(name, 'test-gate-failed', [environment('smoke-failed')]);
  const ok = (name: string) => site(name, 'ok', [environment('applied')]);
  const unchanged = (name: string) => site(name, 'unchanged', [environment('unchanged')]);
  const skipped = (name: string): SiteOutcome => ({ site: name, result: 'skipped', items: [], reason: 'interrupted' });
  const rollout = (sites: SiteOutcome[], writeFailures: RolloutResult['writeFailures'] = []): RolloutResult => ({ sites, ok: false, writeFailures });
  const lostWrite = [{ file: '/fleet/.ozg/ledger.jsonl', error: 'ENOSPC', lines: ['{}'] }];

  it.each([
    ['every site ok or unchanged', [ok('a'), unchanged('b')], ExitCode.ok],
    ['a failed apply', [ok('a'), applyFailed('b')], ExitCode.deployFailed],
    ['a failed prod smoke check (rolled back)', [prodSmokeFailed('a'), ok('b')], ExitCode.deployFailed],
    ['only unreachable targets failed', [unreachable('a'), unreachable('b'), ok('c')], ExitCode.unreachable],
    ['an unreachable target and a failed apply', [unreachable('a'), applyFailed('b')], ExitCode.deployFailed],
    ['an unreachable target and a failed test gate', [unreachable('a'), gateFailed('b')], ExitCode.deployFailed],
    ['a failed apply and a failed test gate', [gateFailed('a'), applyFailed('b')], ExitCode.deployFailed],
    ['a failed test gate', [gateFailed('a'), ok('b')], ExitCode.testGateFailed],
    ['a failed test gate and skipped sites', [gateFailed('a'), skipped('b')], ExitCode.testGateFailed],
    ['an unreachable target and skipped sites', [unreachable('a'), skipped('b')], ExitCode.unreachable],
    ['only skipped sites (interrupted)', [ok('a'), skipped('b')], ExitCode.interrupted],
  ] as const)('%s → %i', (_what, sites, code) => {
    expect(exitCodeForRollout(rollout([...sites]))).toBe(code);
  });

  it.each([
    ['every site ok', [ok('a')]],
    ['only unreachable targets failed', [unreachable('a')]],
    ['a failed test gate', [gateFailed('a')]],
    ['skipped sites', [skipped('a')]],
  ] as const)('a write that failed makes it 4 whatever else happened: %s', (_what, sites) => {
    expect(exitCodeForRollout(rollout([...sites], lostWrite))).toBe(ExitCode.deployFailed);
  });
});

describe('exitCodeForRollout with sites left out for invalid input', () => {
  const refused: SiteOutcome = { site: 'husum', result: 'failed', items: [], reason: 'invalid input', problems: [{ file: 'sites.yaml', line: 3, col: 5, path: 'sites.husum', message: 'x' }] };

  it('is 3 when the others deployed, 4 when a command failed too, and 3 before a failed test gate (5)', async () => {
    const f = fleet([{ name: 'dc', sites: ['a', 'b'] }]);
    const ok = await f.run({});
    expect(exitCodeForRollout({ ...ok, ok: false, sites: [...ok.sites, refused] })).toBe(ExitCode.invalidInput);

    const failing = fleet([{ name: 'dc', sites: ['a', 'b'] }]);
    failing.target('a', 'prod').applyError = new Error('install hook failed');
    const failed = await failing.run({});
    expect(exitCodeForRollout({ ...failed, sites: [...failed.sites, refused] })).toBe(ExitCode.deployFailed);

    const gated = fleet([{ name: 'dc', sites: ['a'] }]);
    gated.target('a', 'test').smokePasses = false;
    const gate = await gated.run({});
    expect(exitCodeForRollout({ ...gate, sites: [...gate.sites, refused] })).toBe(ExitCode.invalidInput);
  });
});
