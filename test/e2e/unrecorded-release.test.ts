import path from 'node:path';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { copyToTemp, removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/**
 * A deploy killed after its target switched and before the ledger recorded it leaves the
 * desired release live and the old one recorded. Reproduced without timing: deploy, then drop
 * the ledger lines the killed run would never have written.
 */
describe('a release that went live without a ledger record', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    // a second version that passes everywhere, like 1.0.0
    const from = path.join(dir, 'templates/probe/1.0.0');
    const to = path.join(dir, 'templates/probe/1.2.0');
    await cp(from, to, { recursive: true });
    const yaml = await readFile(path.join(to, 'procedure.yaml'), 'utf8');
    await writeFile(path.join(to, 'procedure.yaml'), yaml.replace('version: 1.0.0', 'version: 1.2.0'));
    await writeProbeInventory(dir, { version: '1.0.0', sites: ['kiel'] });
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
    await writeProbeInventory(dir, { version: '1.2.0', sites: ['kiel'] });
  });
  afterEach(() => removeTemp(dir));

  it('test switched, killed before its record: the rerun records it as adopted and status agrees', async () => {
    expect((await runOzg(['deploy', '--only-test'], { cwd: dir })).code).toBe(0);
    await dropRecords(dir, 'test', '1.2.0');
    const before = await status(dir);
    expect(before.test).toMatchObject({ recorded: '1.0.0', live: '1.2.0', drift: true });

    const rerun = await runOzg(['deploy', '--json'], { cwd: dir });
    expect({ code: rerun.code, stderr: rerun.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

    const after = await status(dir);
    expect(after.test).toMatchObject({ recorded: '1.2.0', live: '1.2.0', upToDate: true, drift: false });
    expect(after.prod).toMatchObject({ recorded: '1.2.0', live: '1.2.0', upToDate: true, drift: false });
    const history = await outcomes(dir);
    expect(history.slice(2)).toEqual(['test:adopted:1.2.0', 'prod:applied:1.2.0']);
    const adopted = resultOf(await runOzg(['history', '--json', '--env', 'test'], { cwd: dir })).records.at(-1);
    expect(adopted.release).toBe(await markerRelease(dir, 'test'));
    expect(adopted.smoke).toEqual([expect.objectContaining({ name: 'probe-check', passed: true })]);

    // and from now on it is simply up to date
    const again = await runOzg(['deploy'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/unchanged/);
    expect(await outcomes(dir)).toHaveLength(4);
  });

  it('prod switched, killed before its record: the rerun records it, status shows no drift', async () => {
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
    await dropRecords(dir, 'prod', '1.2.0');
    expect((await status(dir)).prod).toMatchObject({ recorded: '1.0.0', live: '1.2.0', drift: true });

    const rerun = await runOzg(['deploy'], { cwd: dir });
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(/prod.*live but not in the ledger/);
    expect(rerun.stdout).toMatch(/test: unchanged .*prod: adopted/);

    const after = await status(dir);
    expect(after.test).toMatchObject({ recorded: '1.2.0', upToDate: true, drift: false });
    expect(after.prod).toMatchObject({ recorded: '1.2.0', live: '1.2.0', upToDate: true, drift: false });
    expect((await outcomes(dir)).slice(2)).toEqual(['test:applied:1.2.0', 'prod:adopted:1.2.0']);
    const text = await runOzg(['status'], { cwd: dir });
    expect(text.stdout).not.toMatch(/DRIFT/);
  });

  it('`ozg test` records an unrecorded live release the same way', async () => {
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
    await dropRecords(dir, 'prod', '1.2.0');

    expect((await runOzg(['test'], { cwd: dir })).code).toBe(0);
    const after = await status(dir);
    expect(after.prod).toMatchObject({ recorded: '1.2.0', drift: false });
    // `ozg test` checks both environments at once: its two records come in either order
    const history = await outcomes(dir);
    expect(history.slice(2, 3)).toEqual(['test:applied:1.2.0']);
    expect(history.slice(3).sort()).toEqual(['prod:adopted:1.2.0', 'test:tested:1.2.0']);
  });
});

/** Removes the ledger lines of one environment's release, as if the run had died before writing them. */
async function dropRecords(dir: string, environment: string, version: string): Promise<void> {
  const file = path.join(dir, '.ozg/ledger.jsonl');
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  const kept = lines.filter((l) => {
    const { r } = JSON.parse(l);
    return !(r.environment === environment && r.version === version);
  });
  expect(kept.length).toBeLessThan(lines.length);
  await writeFile(file, kept.map((l) => `${l}\n`).join(''));
}

async function status(dir: string): Promise<Record<string, any>> {
  const result = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
  return Object.fromEntries(result.targets.map((t: any) => [t.environment, t]));
}

async function outcomes(dir: string): Promise<string[]> {
  const history = resultOf(await runOzg(['history', '--json'], { cwd: dir }));
  return history.records.map((r: any) => `${r.environment}:${r.outcome}:${r.version}`);
}

async function markerRelease(dir: string, environment: string): Promise<string> {
  return JSON.parse(await readFile(path.join(dir, 'targets', environment, 'kiel/probe/release.json'), 'utf8')).release;
}
