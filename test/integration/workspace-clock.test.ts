import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Clock } from '../../src/clock.js';
import type { OzgEvent } from '../../src/events.js';
import { openWorkspace } from '../../src/workspace/workspace.js';
import { deployRollout } from '../../src/rollout/deploy-rollout.js';
import { readRolloutState } from '../../src/rollout/rollout-state.js';
import { parseLedgerLine } from '../../src/ledger/ledger-line.js';
import { copyToTemp, removeTemp, repoRoot } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/** A clock no machine has: every timestamp and duration of a deploy must come from it. */
function fakeClock(): Clock {
  let ticks = 0;
  return {
    now: () => new Date('2031-02-03T04:05:06.000Z'),
    // each reading 1000 ms after the one before
    monotonicMs: () => (ticks += 1000),
  };
}

describe('the injected clock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    await writeProbeInventory(dir, { version: '1.0.0', count: 1 });
  });
  afterEach(() => removeTemp(dir));

  it('stamps ledger records, the rollout state and the run events of a deploy', async () => {
    const events: OzgEvent[] = [];
    const workspace = await openWorkspace(
      {
        cwd: dir,
        env: { ...process.env },
        inventoryPath: 'sites.yaml',
        reporter: { emit: (event) => events.push(event), result() {}, close() {} },
        signal: new AbortController().signal,
        acceptNewHostKeys: false,
        clock: fakeClock(),
      },
      { lock: true, command: 'deploy' },
    );
    let outcome;
    try {
      outcome = await deployRollout(workspace, { sites: [] });
    } finally {
      await workspace.close();
    }
    expect(outcome.result.ok).toBe(true);
    expect(outcome.startedAt.toISOString()).toBe('2031-02-03T04:05:06.000Z');

    const records = (await readFile(path.join(dir, '.ozg/ledger.jsonl'), 'utf8')).trim().split('\n').map((line) => parseLedgerLine(line)!);
    // one reading when a stage starts, one when it is recorded
    expect(records.map((r) => [r.environment, r.outcome, r.time, r.durationMs])).toEqual([
      ['test', 'applied', '2031-02-03T04:05:06.000Z', 1000],
      ['prod', 'applied', '2031-02-03T04:05:06.000Z', 1000],
    ]);
    expect(records.map((r) => r.release)).toEqual([expect.stringMatching(/^20310203T040506Z-/), expect.stringMatching(/^20310203T040506Z-/)]);

    // the live marker each target keeps says when the release went live: by the same clock
    const { readdir } = await import('node:fs/promises');
    for (const environment of ['test', 'prod']) {
      const [site] = await readdir(path.join(dir, 'targets', environment));
      const [procedure] = await readdir(path.join(dir, 'targets', environment, site!));
      const marker = JSON.parse(await readFile(path.join(dir, 'targets', environment, site!, procedure!, 'release.json'), 'utf8'));
      expect(marker.deployedAt).toBe('2031-02-03T04:05:06.000Z');
    }

    const state = await readRolloutState(path.join(dir, '.ozg'));
    expect(state).toMatchObject({ startedAt: '2031-02-03T04:05:06.000Z', finishedAt: '2031-02-03T04:05:06.000Z' });
    const finished = events.find((event) => event.type === 'run-finished');
    expect(finished).toMatchObject({ type: 'run-finished', ok: true });
    expect((finished as { durationMs: number }).durationMs % 1000).toBe(0);
  });
});
