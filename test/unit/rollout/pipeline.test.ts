import { deployItem, type PipelineDeps, type RecordInput } from '../../../src/rollout/pipeline.js';
import type { Bundle } from '../../../src/procedure/types.js';
import type { EnvironmentName, ResolvedSetup, Site } from '../../../src/inventory/types.js';
import type { RollbackResult } from '../../../src/targets/driver.js';
import type { OzgEvent } from '../../../src/events.js';
import { UnreachableError } from '../../../src/errors.js';
import { FakeTarget } from '../../helpers/fake-target.js';

const site: Site = { name: 'kiel', labels: {}, dataCenter: 'dc', facts: {}, setups: [] };

function itemAt(version: string): ResolvedSetup {
  return {
    site,
    setup: { procedure: 'antrag', version, values: {}, secrets: {} },
    procedure: { name: 'antrag', version, description: '', dir: '/x', file: '/x/procedure.yaml', valuesSchema: {}, secrets: [], smoke: [] },
    values: {},
  };
}

function harness() {
  const targets = { test: new FakeTarget('test'), prod: new FakeTarget('prod') };
  const records: RecordInput[] = [];
  const events: OzgEvent[] = [];
  let ticks = 0;
  const deps: PipelineDeps = {
    async renderBundle(item: ResolvedSetup, environment: EnvironmentName): Promise<Bundle> {
      return { site: 'kiel', environment, procedure: 'antrag', version: item.procedure.version, targetKind: 'vm', files: [], hooks: {}, smoke: [{ name: 'ok', command: 'true' }], hash: `${environment}-${item.procedure.version}` };
    },
    async driver(_site, environment) {
      return targets[environment];
    },
    recorded: () => undefined,
    async record(record) {
      records.push(record);
    },
    reporter: { emit: (e) => events.push(e), result() {}, close() {} },
    // each monotonic reading is 250 ms after the one before: durations are the clock's, not the machine's
    clock: { now: () => new Date('2026-11-29T05:00:00Z'), monotonicMs: () => (ticks += 250) },
  };
  return { targets, records, events, deps };
}

describe('deployItem', () => {
  it('applies to test, smoke-tests, then applies to prod and records both', async () => {
    const h = harness();
    const outcome = await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('ok');
    expect(h.targets.test.calls).toEqual(['live', 'apply', 'smoke']);
    expect(h.targets.prod.calls).toEqual(['live', 'apply', 'smoke']);
    expect(h.records.map((r) => `${r.environment}:${r.outcome}`)).toEqual(['test:applied', 'prod:applied']);
    expect(h.records[0]!.release).toBe('20261129T050000Z-test-1.0');
  });

  it('takes release ids and durations from the injected clock', async () => {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    // one reading when a stage starts, one when its record is written
    expect(h.records.map((r) => r.durationMs)).toEqual([250, 250]);
    expect(h.records.map((r) => r.release)).toEqual(['20261129T050000Z-test-1.0', '20261129T050000Z-prod-1.0']);
  });

  it('does nothing and records nothing when both targets are at the bundle hash', async () => {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.records.length = 0;
    h.targets.test.calls = [];
    h.targets.prod.calls = [];
    const outcome = await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('unchanged');
    expect(h.records).toEqual([]);
    expect(h.targets.test.calls).toEqual(['live']);
    expect(h.targets.prod.calls).toEqual(['live']);
  });

  it('leaves prod untouched when the test gate fails, rolls test back and records it', async () => {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.targets.test.smokePasses = false;
    h.targets.prod.calls = [];
    const outcome = await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('test-gate-failed');
    expect(h.targets.prod.calls).toEqual(['live']);
    expect(h.targets.prod.releases.at(-1)!.version).toBe('1.0.0');
    expect(h.targets.test.releases.at(-1)!.version).toBe('1.0.0');
    expect(h.records.slice(2).map((r) => `${r.environment}:${r.outcome}:${r.version}`)).toEqual([
      'test:smoke-failed:1.1.0',
      'test:rolled-back:1.0.0',
      'prod:skipped:1.1.0',
    ]);
  });

  it('rolls prod back automatically when its smoke checks fail', async () => {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.targets.prod.smokePasses = false;
    const outcome = await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('failed');
    expect(h.targets.prod.releases.at(-1)!.version).toBe('1.0.0');
    expect(h.records.slice(2).map((r) => `${r.environment}:${r.outcome}:${r.version}`)).toEqual([
      'test:applied:1.1.0',
      'prod:smoke-failed:1.1.0',
      'prod:rolled-back:1.0.0',
    ]);
  });

  it('re-runs the test gate for an unchanged test target before changing prod', async () => {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test'], h.deps);
    h.targets.test.smokePasses = false;
    h.targets.test.calls = [];
    const outcome = await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('test-gate-failed');
    expect(h.targets.test.calls).toEqual(['live', 'smoke']);
    expect(h.targets.prod.releases).toEqual([]);
  });

  it('reports an unreachable target as a failed site without throwing', async () => {
    const h = harness();
    h.targets.test.applyError = new UnreachableError('127.0.0.9', 'connection refused');
    const outcome = await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('failed');
    expect(outcome.environments[0]).toMatchObject({ environment: 'test', status: 'apply-failed', unreachable: true });
    expect(h.targets.prod.calls).toEqual(['live']);
    expect(h.records.map((r) => `${r.environment}:${r.outcome}`)).toEqual(['test:apply-failed', 'prod:skipped']);
  });

  it('names the environment whose target cannot be read, and touches none before it', async () => {
    const h = harness();
    h.targets.prod.liveError = new UnreachableError('127.0.0.9', 'unknown host key');
    const outcome = await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('failed');
    expect(outcome.environments).toEqual([expect.objectContaining({ environment: 'prod', status: 'apply-failed', unreachable: true, error: '127.0.0.9: unknown host key' })]);
    expect(h.targets.test.calls).toEqual(['live']);
    expect(h.records.map((r) => `${r.environment}:${r.outcome}:${r.hash}:${r.error}`)).toEqual(['prod:apply-failed::127.0.0.9: unknown host key']);
  });

  it('stops before the next step once interrupted', async () => {
    const h = harness();
    const controller = new AbortController();
    controller.abort();
    await expect(deployItem(itemAt('1.0.0'), ['test', 'prod'], { ...h.deps, signal: controller.signal })).rejects.toThrow('interrupted');
    expect(h.records).toEqual([]);
  });
});

describe('a driver that leaves a failed apply incomplete', () => {
  it('gets the last good release restored and recorded', async () => {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    const good = h.targets.prod.releases.at(-1)!;
    // like the Kubernetes driver: objects applied, rollout never ready, record marked incomplete
    h.targets.prod.apply = async (bundle: Bundle) => {
      h.targets.prod.calls.push('apply');
      h.targets.prod.releases.push({ ...good, incomplete: { version: bundle.version, hash: bundle.hash, release: 'r2', failed: 'not ready' } });
      throw new Error('deployment web: pod web-1 ImagePullBackOff');
    };
    h.targets.prod.rollback = async (_procedure: string, toRelease?: string): Promise<RollbackResult> => {
      h.targets.prod.calls.push(`rollback ${toRelease}`);
      h.targets.prod.releases.push(good);
      return { status: 'rolled-back', live: good };
    };
    const outcome = await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('failed');
    expect(h.targets.prod.calls.slice(-3)).toEqual(['apply', 'live', `rollback ${good.release}`]);
    expect(h.records.slice(-2).map((r) => `${r.environment}:${r.outcome}:${r.version}`)).toEqual(['prod:apply-failed:1.1.0', 'prod:rolled-back:1.0.0']);
  });

  it('is not rolled back when the driver reverted by itself', async () => {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.targets.prod.applyError = new Error('install hook failed');
    await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(h.targets.prod.calls).not.toContain('rollback');
  });
});

describe('a release live at the desired hash that the ledger never recorded', () => {
  /** 1.1.0 live on both targets, the ledger's last live record for prod still 1.0.0 (a run killed before recording prod) */
  async function killedBeforeProdRecord() {
    const h = harness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    const recorded = { id: '1', time: '', actor: '', run: '', site: 'kiel', procedure: 'antrag', outcome: 'applied' as const, smoke: [], durationMs: 0 };
    h.deps.recorded = (key) =>
      key.environment === 'test' ? { ...recorded, environment: 'test', version: '1.1.0', hash: 'test-1.1.0' } : { ...recorded, environment: 'prod', version: '1.0.0', hash: 'prod-1.0.0' };
    h.records.length = 0;
    h.targets.test.calls = [];
    h.targets.prod.calls = [];
    return h;
  }

  it('is smoke-tested and recorded as adopted with the release id from the live marker', async () => {
    const h = await killedBeforeProdRecord();
    const outcome = await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('ok');
    expect(outcome.environments.map((e) => `${e.environment}:${e.status}`)).toEqual(['test:unchanged', 'prod:adopted']);
    expect(h.targets.test.calls).toEqual(['live']);
    expect(h.targets.prod.calls).toEqual(['live', 'smoke']);
    expect(h.records).toEqual([expect.objectContaining({ environment: 'prod', outcome: 'adopted', version: '1.1.0', hash: 'prod-1.1.0', release: h.targets.prod.releases.at(-1)!.release })]);
  });

  it('is rolled back like a fresh apply when its smoke checks fail', async () => {
    const h = await killedBeforeProdRecord();
    h.targets.prod.smokePasses = false;
    const outcome = await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('failed');
    expect(h.targets.prod.releases.at(-1)!.version).toBe('1.0.0');
    expect(h.records.map((r) => `${r.environment}:${r.outcome}:${r.version}`)).toEqual(['prod:smoke-failed:1.1.0', 'prod:rolled-back:1.0.0']);
  });
});

describe('rollback holds', () => {
  /** the harness, with holds taken from the records written so far, as the workspace does */
  function holdingHarness() {
    const h = harness();
    h.deps.holding = (key) => {
      const deciding = h.records.filter((r) => r.site === key.site && r.environment === key.environment && r.procedure === key.procedure && ['applied', 'adopted', 'rolled-back', 'hold-released'].includes(r.outcome));
      const last = deciding.at(-1);
      return last?.outcome === 'rolled-back' && last.hold ? { ...last, id: 'r', time: '2026-11-29T05:00:00.000Z', actor: 'ops@admin', run: 'run-0' } : undefined;
    };
    return h;
  }

  it('a prod smoke failure holds the failed bundle in prod; a test failure holds nothing', async () => {
    const h = holdingHarness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.targets.prod.smokePasses = false;
    await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(h.records.at(-1)).toMatchObject({ environment: 'prod', outcome: 'rolled-back', version: '1.0.0', hold: { version: '1.1.0', hash: 'prod-1.1.0', reason: expect.stringContaining('prod smoke checks failed: ok:') } });

    const gate = holdingHarness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], gate.deps);
    gate.targets.test.smokePasses = false;
    await deployItem(itemAt('1.1.0'), ['test', 'prod'], gate.deps);
    expect(gate.records.find((r) => r.outcome === 'rolled-back')).not.toHaveProperty('hold');
  });

  it('skips a held prod target without touching or recording it; test still runs', async () => {
    const h = holdingHarness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.targets.prod.smokePasses = false;
    await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    h.targets.prod.smokePasses = true;
    h.targets.test.calls = [];
    h.targets.prod.calls = [];
    const before = h.records.length;
    const outcome = await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('unchanged');
    expect(outcome.environments.map((e) => `${e.environment}:${e.status}`)).toEqual(['test:unchanged', 'prod:held']);
    expect(outcome.environments[1]!.hold).toMatchObject({ version: '1.1.0', by: 'ops@admin' });
    expect(h.targets.prod.calls).toEqual(['live']);
    expect(h.records.length).toBe(before);
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'step', environment: 'prod', step: 'hold', message: expect.stringContaining('held: 1.1.0 was rolled back by ops@admin') }));
  });

  it('a held test target holds back prod too: its gate never ran for the bundle', async () => {
    const h = holdingHarness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.records.push({ site: 'kiel', environment: 'test', procedure: 'antrag', version: '1.0.0', hash: 'test-1.0.0', outcome: 'rolled-back', smoke: [], durationMs: 0, hold: { version: '1.1.0', hash: 'test-1.1.0', reason: 'by hand' } });
    h.targets.prod.calls = [];
    const outcome = await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    expect(outcome.environments.map((e) => `${e.environment}:${e.status}`)).toEqual(['test:held', 'prod:skipped']);
    expect(h.targets.prod.calls).toEqual(['live']);
  });

  it('a different desired bundle is not held', async () => {
    const h = holdingHarness();
    await deployItem(itemAt('1.0.0'), ['test', 'prod'], h.deps);
    h.targets.prod.smokePasses = false;
    await deployItem(itemAt('1.1.0'), ['test', 'prod'], h.deps);
    h.targets.prod.smokePasses = true;
    const outcome = await deployItem(itemAt('1.2.0'), ['test', 'prod'], h.deps);
    expect(outcome.result).toBe('ok');
    expect(outcome.environments.map((e) => `${e.environment}:${e.status}`)).toEqual(['test:applied', 'prod:applied']);
  });
});
