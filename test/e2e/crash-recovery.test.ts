import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { copyToTemp, parseJsonLines, removeTemp, repoRoot, resultOf, runOzg, spawnOzg } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/** SIGKILL in the middle of a deploy; the next run reads the ledger and completes. */
describe('a deploy killed with SIGKILL', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
  });
  afterAll(() => removeTemp(dir));

  it('leaves a readable ledger, a stale lock that is recovered, and converges on rerun', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', count: 12, installDelay: 0.2 });
    const { child, done } = spawnOzg(['deploy', '--json'], { cwd: dir });
    // kill once some records are written, while other sites are still installing
    await waitFor(async () => (await readFile(path.join(dir, '.ozg/ledger.jsonl'), 'utf8').catch(() => '')).split('\n').length > 4);
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');

    const before = resultOf(await runOzg(['history', '--json'], { cwd: dir }));
    expect(before.records.length).toBeGreaterThan(0);
    expect(before.records.length).toBeLessThan(24);

    // the killed run's heartbeat is still fresh, but it ran in this PID namespace and its pid is
    // gone: its lock is taken over at once, with a warning naming it
    const rerun = await runOzg(['deploy', '--json'], { cwd: dir });
    expect({ code: rerun.code, stderr: rerun.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const warnings = parseJsonLines(rerun.stdout).filter((l) => l.type === 'warning');
    expect(warnings).toContainEqual({ type: 'warning', message: expect.stringContaining(`pid ${child.pid} running "deploy"`) });
    const status = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
    expect(status.targets).toHaveLength(24);
    expect(status.targets.every((t: any) => t.live === '1.0.0' && t.upToDate && !t.drift)).toBe(true);

    const after = resultOf(await runOzg(['history', '--json'], { cwd: dir }));
    const applied = new Set(after.records.filter((r: any) => r.outcome === 'applied').map((r: any) => `${r.site}/${r.environment}`));
    expect(applied.size).toBe(24);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
