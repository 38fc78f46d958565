import path from 'node:path';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { copyToTemp, removeTemp, repoRoot, resultOf, runOzg, spawnOzg } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/** Ctrl-C: finish the step in flight, record it, release the lock, exit 130; a rerun completes. */
describe('an interrupted deploy', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
  });
  afterAll(() => removeTemp(dir));

  it('exits 130, loses no record, leaves no lock, and a rerun converges', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', count: 6, installDelay: 0.3 });
    const { child, done } = spawnOzg(['deploy', '-c', '2'], { cwd: dir });
    const ledger = path.join(dir, '.ozg/ledger.jsonl');
    while (!(await readFile(ledger, 'utf8').catch(() => ''))) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGINT');
    const run = await done;
    expect(run.code).toBe(130);
    expect(existsSync(path.join(dir, '.ozg/lock'))).toBe(false);

    // every target that carries a marker has a record saying so
    const history = resultOf(await runOzg(['history', '--json'], { cwd: dir }));
    const status = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
    const live = status.targets.filter((t: any) => t.live !== null).map((t: any) => `${t.site}/${t.environment}`);
    const recorded = history.records.filter((r: any) => r.outcome === 'applied').map((r: any) => `${r.site}/${r.environment}`);
    expect(live.length).toBeLessThan(12);
    expect(recorded.sort()).toEqual(live.sort());

    const rerun = await runOzg(['deploy'], { cwd: dir });
    expect(rerun.code).toBe(0);
    const after = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
    expect(after.targets.every((t: any) => t.upToDate)).toBe(true);
  });
});
