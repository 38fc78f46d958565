import path from 'node:path';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { copyToTemp, removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import { probeInventory } from '../helpers/probe-inventory.js';

/**
 * Issue 13: after a rollback the next deploy must not silently bring back what was rolled
 * back. The gate fixture's `probe` passes everywhere at 1.0.0 and fails its smoke check in
 * prod at 1.1.0; 1.2.0 and 1.3.0 are copies of 1.0.0 made here (both pass).
 */
const fixture = path.join(repoRoot, 'test/fixtures/e2e/gate');

async function liveVersion(dir: string, env: string, site: string): Promise<string> {
  return JSON.parse(await readFile(path.join(dir, 'targets', env, site, 'probe/release.json'), 'utf8')).version;
}

async function addPassingVersion(dir: string, version: string): Promise<void> {
  const to = path.join(dir, 'templates/probe', version);
  await cp(path.join(dir, 'templates/probe/1.0.0'), to, { recursive: true });
  const file = path.join(to, 'procedure.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace(/^version: 1\.0\.0$/m, `version: ${version}`));
}

/** kiel and husum at `version`; flensburg joins with `withFlensburg` */
async function setVersion(dir: string, version: string, options: { withFlensburg?: boolean } = {}): Promise<void> {
  await writeFile(path.join(dir, 'sites.yaml'), probeInventory({ version, sites: ['kiel', 'husum', ...(options.withFlensburg ? ['flensburg'] : [])] }));
}

describe('a rollback holds the target at that release', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: fixture }]);
    await addPassingVersion(dir, '1.2.0');
    await addPassingVersion(dir, '1.3.0');
    await setVersion(dir, '1.0.0');
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
    await setVersion(dir, '1.2.0');
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
  });
  afterEach(() => removeTemp(dir));

  it('plan and deploy show it held (who, when, why) and skip it until `ozg unhold`; the restored release is smoke-tested', async () => {
    const rollback = await runOzg(['rollback', 'kiel', '-p', 'probe', '-e', 'prod', '--reason', 'citizens report a broken form'], { cwd: dir });
    expect(rollback.code).toBe(0);
    expect(rollback.stdout).toContain('kiel/prod/probe: rolled back to 1.0.0');
    expect(rollback.stdout).toContain('smoke: 1/1 passed');
    expect(rollback.stdout).toContain('held: deploy skips 1.2.0 here until `ozg unhold kiel -p probe -e prod`');
    expect(await liveVersion(dir, 'prod', 'kiel')).toBe('1.0.0');

    // the rollback record: what is live again, its smoke results, the hold and its reason
    const history = resultOf(await runOzg(['history', '--json', '-s', 'kiel', '-e', 'prod'], { cwd: dir }));
    const record = history.records.at(-1);
    expect(record).toMatchObject({ outcome: 'rolled-back', version: '1.0.0', hold: { version: '1.2.0', reason: 'citizens report a broken form' } });
    expect(record.smoke).toEqual([expect.objectContaining({ name: 'probe-check', passed: true })]);
    expect((await runOzg(['history', '-s', 'kiel', '-e', 'prod'], { cwd: dir })).stdout).toContain('rolled-back (holds 1.2.0: citizens report a broken form)');

    const plan = await runOzg(['plan'], { cwd: dir });
    expect(plan.code).toBe(0); // a held target is not a pending change
    expect(plan.stdout).toMatch(new RegExp(`kiel +prod +probe +held +1\\.0\\.0 +1\\.2\\.0 +held: 1\\.2\\.0 rolled back by ${escape(record.actor)} at ${escape(record.time.replace(/\.\d+Z$/, 'Z'))}: citizens report a broken form`));
    expect(plan.stdout).toContain('1 target(s) held by a rollback');
    expect(plan.stdout).not.toContain('every target is at its desired release.');
    const planJson = resultOf(await runOzg(['plan', '--json'], { cwd: dir }));
    expect(planJson.held).toBe(1);
    expect(planJson.targets.find((t: any) => t.site === 'kiel' && t.environment === 'prod').hold).toEqual({
      version: '1.2.0',
      hash: record.hold.hash,
      reason: 'citizens report a broken form',
      by: record.actor,
      since: record.time,
      at: '1.0.0',
      run: record.run,
    });
    const status = await runOzg(['status'], { cwd: dir });
    expect(status.stdout).toMatch(/kiel +prod +probe +1\.0\.0 +1\.0\.0 +1\.2\.0 +held: 1\.2\.0 rolled back by .*: citizens report a broken form/);

    // a new site is installed in the same run: only the held target is skipped
    await setVersion(dir, '1.2.0', { withFlensburg: true });
    const deploy = await runOzg(['deploy'], { cwd: dir });
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).toMatch(/kiel +probe 1\.2\.0 +test: unchanged .*prod: held/);
    expect(deploy.stdout).toContain('prod: held: 1.2.0 rolled back by');
    expect(deploy.stdout).toMatch(/flensburg +probe 1\.2\.0 +test: applied .*prod: applied/);
    expect(deploy.stdout).toContain('1 target(s) held by a rollback and skipped');
    expect(await liveVersion(dir, 'prod', 'kiel')).toBe('1.0.0');
    expect(await liveVersion(dir, 'prod', 'flensburg')).toBe('1.2.0');
    const deployJson = resultOf(await runOzg(['deploy', '--json'], { cwd: dir }));
    const kielProd = deployJson.sites.find((s: any) => s.site === 'kiel').items[0].environments.find((e: any) => e.environment === 'prod');
    expect(kielProd).toMatchObject({ status: 'held', hold: { version: '1.2.0', reason: 'citizens report a broken form' } });

    const unhold = await runOzg(['unhold', 'kiel', '-p', 'probe', '-e', 'prod', '--reason', 'form fixed upstream'], { cwd: dir });
    expect(unhold.code).toBe(0);
    expect(unhold.stdout).toContain('kiel/prod/probe: released');
    expect((await runOzg(['plan'], { cwd: dir })).code).toBe(10);
    const again = await runOzg(['deploy'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/kiel +probe 1\.2\.0 +test: unchanged .*prod: applied/);
    expect(await liveVersion(dir, 'prod', 'kiel')).toBe('1.2.0');
    const released = resultOf(await runOzg(['history', '--json', '-s', 'kiel', '-e', 'prod'], { cwd: dir })).records;
    expect(released.map((r: any) => r.outcome).slice(-3)).toEqual(['rolled-back', 'hold-released', 'applied']);
    expect(released.at(-2).hold).toMatchObject({ version: '1.2.0', reason: 'form fixed upstream' });
    // nothing held any more
    expect((await runOzg(['unhold', 'kiel', '-p', 'probe', '-e', 'prod'], { cwd: dir })).stdout).toContain('not held');
  });

  it('travels with the ledger: a checkout that merges the ledger sees the hold, and the release too', async () => {
    expect((await runOzg(['rollback', 'kiel', '-p', 'probe', '-e', 'prod', '--reason', 'shard A rolled back'], { cwd: dir })).code).toBe(0);
    // another checkout of the same targets (the local data center's directories) without a ledger of its own
    const other = await copyToTemp([{ from: dir }]);
    try {
      await rm(path.join(other, '.ozg/ledger.jsonl'));
      expect((await runOzg(['ledger', 'merge', path.join(dir, '.ozg/ledger.jsonl')], { cwd: other })).code).toBe(0);
      const plan = resultOf(await runOzg(['plan', '--json'], { cwd: other }));
      expect(plan.targets.find((t: any) => t.site === 'kiel' && t.environment === 'prod').hold).toMatchObject({ version: '1.2.0', reason: 'shard A rolled back' });
      expect((await runOzg(['unhold', 'kiel', '-p', 'probe', '-e', 'prod'], { cwd: dir })).code).toBe(0);
      expect((await runOzg(['ledger', 'merge', path.join(dir, '.ozg/ledger.jsonl')], { cwd: other })).code).toBe(0);
      expect(resultOf(await runOzg(['plan', '--json'], { cwd: other })).held).toBe(0);
    } finally {
      await removeTemp(other);
    }
  });

  it('a new desired version goes through without unhold', async () => {
    expect((await runOzg(['rollback', 'kiel', '-p', 'probe', '-e', 'prod'], { cwd: dir })).code).toBe(0);
    await setVersion(dir, '1.3.0');
    const deploy = await runOzg(['deploy'], { cwd: dir });
    expect(deploy.code).toBe(0);
    expect(deploy.stdout).not.toContain('held');
    expect(await liveVersion(dir, 'prod', 'kiel')).toBe('1.3.0');
  });

  it('a prod smoke failure holds the failed bundle: the next run skips it (exit 0), prod stays on the good release', async () => {
    await setVersion(dir, '1.1.0');
    const failed = await runOzg(['deploy'], { cwd: dir });
    expect(failed.code).toBe(4);
    expect(failed.stderr).toContain('1.1.0 is held: the next deploy skips it until `ozg unhold kiel -p probe -e prod` or a new version');
    const next = await runOzg(['deploy'], { cwd: dir });
    expect(next.code).toBe(0);
    expect(next.stdout).toMatch(/kiel +probe 1\.1\.0 +test: unchanged .*prod: held/);
    expect(next.stdout).toContain('prod: held: 1.1.0 rolled back by');
    expect(next.stdout).toContain('prod smoke checks failed: probe-check');
    expect(next.stdout).toContain('2 target(s) held by a rollback and skipped');
    expect(await liveVersion(dir, 'prod', 'kiel')).toBe('1.2.0');

    // the restored release's smoke checks are run and recorded; failing ones give exit 4
    const smokeFailed = resultOf(await runOzg(['history', '--json', '-s', 'kiel', '-e', 'prod'], { cwd: dir })).records.find((r: any) => r.outcome === 'smoke-failed');
    const back = await runOzg(['rollback', 'kiel', '-p', 'probe', '-e', 'prod', '--to', smokeFailed.release], { cwd: dir });
    expect(back.code).toBe(4);
    expect(back.stdout).toContain('smoke: FAILED probe-check');
    const last = resultOf(await runOzg(['history', '--json', '-s', 'kiel', '-e', 'prod'], { cwd: dir })).records.at(-1);
    expect(last).toMatchObject({ outcome: 'rolled-back', version: '1.1.0', error: expect.stringContaining('probe-check') });
    expect(last.smoke).toEqual([expect.objectContaining({ name: 'probe-check', passed: false })]);
  });

  it('a test-stage failure holds nothing: a fixed bundle goes forward', async () => {
    await setVersion(dir, '2.0.0');
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(5);
    expect((await runOzg(['plan'], { cwd: dir })).stdout).not.toContain('held');
    await setVersion(dir, '1.3.0');
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
  });

  it("says so when the restored release's version is no longer in the catalogue, and records no smoke results", async () => {
    await rm(path.join(dir, 'templates/probe/1.0.0'), { recursive: true });
    const run = await runOzg(['rollback', 'kiel', '-p', 'probe', '-e', 'prod', '--json'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(resultOf(run)).toMatchObject({ status: 'rolled-back', smoke: [], smokeNotRun: 'version 1.0.0 of probe is not in the catalogue: its smoke checks were not run' });
    const plain = await runOzg(['rollback', 'husum', '-p', 'probe', '-e', 'prod'], { cwd: dir });
    expect(plain.stdout).toContain('smoke: not run: version 1.0.0 of probe is not in the catalogue');
    expect(plain.stderr).toContain('warning');
  });

  it('--to a release the target does not keep lists the kept ones (exit 2), nothing recorded', async () => {
    const before = await readFile(path.join(dir, '.ozg/ledger.jsonl'), 'utf8');
    const run = await runOzg(['rollback', 'kiel', '-p', 'probe', '-e', 'prod', '--to', '20990101T000000Z-deadbeef'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('error: release 20990101T000000Z-deadbeef is not kept on kiel/prod/probe');
    const records = resultOf(await runOzg(['history', '--json', '-s', 'kiel', '-e', 'prod'], { cwd: dir })).records;
    const [first, second] = records.map((r: any) => r.release);
    const stamp = (id: string) => id.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z.*/, '$1-$2-$3T$4:$5:$6Z');
    expect(run.stderr).toContain(`kept releases, newest first:\n  ${second}  1.2.0  ${stamp(second)}  (live)\n  ${first}  1.0.0  ${stamp(first)}`);
    expect(await readFile(path.join(dir, '.ozg/ledger.jsonl'), 'utf8')).toBe(before);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
