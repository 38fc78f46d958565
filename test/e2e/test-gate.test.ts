import path from 'node:path';
import { readFile, readlink, access } from 'node:fs/promises';
import { copyToTemp, removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

const fixture = path.join(repoRoot, 'test/fixtures/e2e/gate');

async function liveMarker(dir: string, env: string, site: string) {
  return JSON.parse(await readFile(path.join(dir, 'targets', env, site, 'probe/release.json'), 'utf8'));
}

describe('the test gate', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: fixture }]);
  });
  afterEach(() => removeTemp(dir));

  it('a smoke failure in test leaves prod untouched, exits 5 and is recorded', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', sites: ['kiel'] });
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);

    await writeProbeInventory(dir, { version: '2.0.0', sites: ['kiel'] });
    const run = await runOzg(['deploy'], { cwd: dir });
    expect(run.code).toBe(5);
    expect(run.stdout).toMatch(/test: smoke-failed/);
    expect(run.stdout).toMatch(/prod: skipped/);
    expect((await liveMarker(dir, 'prod', 'kiel')).version).toBe('1.0.0');

    const history = resultOf(await runOzg(['history', '--json'], { cwd: dir }));
    const outcomes = history.records.map((r: any) => `${r.environment}:${r.outcome}:${r.version}`);
    expect(outcomes).toEqual(['test:applied:1.0.0', 'prod:applied:1.0.0', 'test:smoke-failed:2.0.0', 'test:rolled-back:1.0.0', 'prod:skipped:2.0.0']);
    const failed = history.records.find((r: any) => r.outcome === 'smoke-failed');
    expect(failed.smoke).toEqual([expect.objectContaining({ name: 'probe-check', passed: false })]);
  });

  it('a gate failure on a first install leaves prod empty', async () => {
    await writeProbeInventory(dir, { version: '2.0.0', sites: ['kiel'] });
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(5);
    await expect(access(path.join(dir, 'targets/prod/kiel'))).rejects.toThrow();
  });

  it('a prod smoke failure rolls prod back to the previous release automatically (exit 4)', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', sites: ['kiel'] });
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
    const before = await liveMarker(dir, 'prod', 'kiel');

    await writeProbeInventory(dir, { version: '1.1.0', sites: ['kiel'] });
    const run = await runOzg(['deploy'], { cwd: dir });
    expect(run.code).toBe(4);
    const after = await liveMarker(dir, 'prod', 'kiel');
    expect(after).toMatchObject({ version: '1.0.0', release: before.release, hash: before.hash });
    expect(await readlink(path.join(dir, 'targets/prod/kiel/probe/current'))).toBe(`releases/${before.release}`);
    expect((await liveMarker(dir, 'test', 'kiel')).version).toBe('1.1.0');

    const history = resultOf(await runOzg(['history', '--json', '--env', 'prod'], { cwd: dir }));
    expect(history.records.map((r: any) => `${r.outcome}:${r.version}`)).toEqual(['applied:1.0.0', 'smoke-failed:1.1.0', 'rolled-back:1.0.0']);

    const status = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
    expect(status.targets).toEqual(
      expect.arrayContaining([expect.objectContaining({ site: 'kiel', environment: 'prod', live: '1.0.0', recorded: '1.0.0', drift: false, upToDate: false })]),
    );
  });

  it('rollback and test commands switch back and re-check by hand', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', sites: ['kiel'] });
    await runOzg(['deploy'], { cwd: dir });
    await writeProbeInventory(dir, { version: '1.1.0', sites: ['kiel'] });
    await runOzg(['deploy', '--only-test'], { cwd: dir });
    expect((await liveMarker(dir, 'test', 'kiel')).version).toBe('1.1.0');

    const rollback = await runOzg(['rollback', 'kiel', '--procedure', 'probe', '--env', 'test'], { cwd: dir });
    expect(rollback.code).toBe(0);
    expect(rollback.stdout).toContain('rolled back to 1.0.0');
    expect((await liveMarker(dir, 'test', 'kiel')).version).toBe('1.0.0');

    const test = await runOzg(['test', '--json'], { cwd: dir });
    expect(test.code).toBe(0);
    expect(resultOf(test).targets.map((t: any) => `${t.environment}:${t.status}:${t.version}`)).toEqual(['test:passed:1.0.0', 'prod:passed:1.0.0']);
  });
});
