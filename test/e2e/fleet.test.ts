import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { copyToTemp, parseJsonLines, removeTemp, repoRoot, resultOf, runOzg, spawnOzg } from '../helpers/run-ozg.js';
import { probeInventory, writeProbeInventory } from '../helpers/probe-inventory.js';

const fixture = path.join(repoRoot, 'test/fixtures/e2e/gate');

function validateJunit(file: string): string {
  if (!existsSync('/usr/bin/xmllint')) throw new Error('xmllint is missing: apt-get install -y libxml2-utils');
  try {
    return execFileSync('xmllint', ['--noout', '--schema', path.join(repoRoot, 'test/fixtures/junit/junit.xsd'), file], { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    throw new Error(`JUnit report does not validate:\n${(error as { stderr: string }).stderr}`);
  }
}

describe('fleet rollouts', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: fixture }]);
  });
  afterEach(() => removeTemp(dir));

  it('a gate failure in wave 2 with --max-failures 0 skips wave 3, leaves its prod untouched, and the JUnit report shows both', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', count: 30, versionFor: (site) => (site === 'site-005' ? '2.0.0' : undefined) });
    const run = await runOzg(['deploy', '--waves', '1,10,100%', '--max-failures', '0', '-c', '4', '--json', '--junit', 'smoke.xml'], { cwd: dir });
    expect(run.code).toBe(5);

    const events = parseJsonLines(run.stdout);
    const waves = events.filter((e) => e.type === 'wave-started');
    expect(waves.map((w) => [w.wave, w.sites.length])).toEqual([
      [1, 1],
      [2, 9],
      [3, 20],
    ]);
    const result = events.at(-1)!.result;
    expect(result.stopped).toMatch(/failure budget exceeded/);
    const bySite = new Map<string, any>(result.sites.map((s: any) => [s.site, s]));
    expect(bySite.get('site-005').result).toBe('test-gate-failed');
    // the rest of wave 2 finished if it had started, or was skipped: never failed, never half-deployed
    for (const name of waves[1]!.sites.filter((s: string) => s !== 'site-005')) {
      const site = bySite.get(name);
      expect(site.result === 'ok' || (site.result === 'skipped' && /failure budget/.test(site.reason))).toBe(true);
      if (site.result === 'skipped') expect(existsSync(path.join(dir, 'targets/test', name))).toBe(false);
    }
    for (const name of waves[2]!.sites) expect(bySite.get(name)).toMatchObject({ result: 'skipped', reason: expect.stringMatching(/failure budget/) });
    expect(existsSync(path.join(dir, 'targets/prod/site-005'))).toBe(false);
    expect(existsSync(path.join(dir, 'targets/test/site-030'))).toBe(false);

    validateJunit(path.join(dir, 'smoke.xml'));
    const junit = await readFile(path.join(dir, 'smoke.xml'), 'utf8');
    expect(junit).toMatch(/<testcase classname="site-005\.test\.probe" name="probe-check"[^>]*>\s*<failure/);
    expect(junit).toMatch(/<testcase classname="site-030" name="deploy"[^>]*>\s*<skipped message="failure budget/);
  });

  it('a rollout killed midway resumes without redeploying finished sites', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', count: 12, installDelay: 0.2 });
    const { child, done } = spawnOzg(['deploy', '-c', '3', '--waves', '3,100%'], { cwd: dir });
    const ledger = path.join(dir, '.ozg/ledger.jsonl');
    while ((await readFile(ledger, 'utf8').catch(() => '')).split('\n').length < 10) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    await done;

    const state = JSON.parse(await readFile(path.join(dir, '.ozg/rollout.json'), 'utf8'));
    expect(state.finishedAt).toBeUndefined();
    expect(state.done.length).toBeGreaterThan(0);
    expect(state.done.length).toBeLessThan(12);

    // a killed run of this machine's PID namespace leaves a lock the next run takes over at once
    const resumed = await runOzg(['deploy', '--resume', '--json'], { cwd: dir });
    expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: '' });
    const resumedRun = parseJsonLines(resumed.stdout).find((e) => e.type === 'run-started')!;
    expect(resumedRun.sites).toBe(12 - state.done.length);

    const history = resultOf(await runOzg(['history', '--json'], { cwd: dir }));
    const touchedByResume = history.records.filter((r: any) => r.run === resumedRun.run).map((r: any) => r.site);
    for (const site of state.done) expect(touchedByResume).not.toContain(site);
    const applied = history.records.filter((r: any) => r.outcome === 'applied').map((r: any) => `${r.site}/${r.environment}`);
    expect(new Set(applied).size).toBe(applied.length); // nothing applied twice
    const status = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
    expect(status.targets.every((t: any) => t.upToDate)).toBe(true);

    const again = await runOzg(['deploy', '--resume'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('nothing to resume');
  });

  it('two shards merged give the same status as one unsharded run', async () => {
    const whole = await copyToTemp([{ from: fixture }]);
    try {
      await writeProbeInventory(whole, { version: '1.0.0', count: 10 });
      expect((await runOzg(['deploy'], { cwd: whole })).code).toBe(0);

      // two CI jobs: one target tree (the data centers), a ledger each
      for (const shard of [1, 2]) {
        await writeFile(path.join(dir, `shard${shard}.yaml`), probeInventory({ version: '1.0.0', count: 10, ledger: `.ozg-shard${shard}` }));
        const run = await runOzg(['deploy', '-i', `shard${shard}.yaml`, '--shard', `${shard}/2`, '--json'], { cwd: dir });
        expect(run.code).toBe(0);
        const sites = resultOf(run).sites.length;
        expect(sites).toBeGreaterThan(0);
        expect(sites).toBeLessThan(10);
      }
      await writeProbeInventory(dir, { version: '1.0.0', count: 10 });
      const merge = await runOzg(['ledger', 'merge', '.ozg-shard1/ledger.jsonl', '.ozg-shard2/ledger.jsonl', '--json'], { cwd: dir });
      expect(merge.code).toBe(0);
      expect(resultOf(merge)).toMatchObject({ added: 20, duplicates: 0 }); // 10 sites × test and prod
      const twice = resultOf(await runOzg(['ledger', 'merge', '.ozg-shard1/ledger.jsonl', '.ozg-shard2/ledger.jsonl', '--json'], { cwd: dir }));
      expect(twice).toMatchObject({ added: 0, duplicates: 20 });

      const comparable = (targets: any[]) => targets.map(({ liveRelease, error, ...rest }: any) => rest);
      const merged = resultOf(await runOzg(['status', '--json'], { cwd: dir }));
      const unsharded = resultOf(await runOzg(['status', '--json'], { cwd: whole }));
      expect(comparable(merged.targets)).toEqual(comparable(unsharded.targets));
      expect(merged.targets.every((t: any) => t.recorded === '1.0.0' && !t.drift)).toBe(true);
    } finally {
      await removeTemp(whole);
    }
  });

  it('asks before deploying to a data center with confirm: true, and needs --yes without a terminal', async () => {
    await writeFile(path.join(dir, 'sites.yaml'), probeInventory({ version: '1.0.0', count: 1 }).replace('prod: { root: ./targets/prod }', 'prod: { root: ./targets/prod, confirm: true }'));
    const refused = await runOzg(['deploy'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(existsSync(path.join(dir, 'targets'))).toBe(false);
    expect((await runOzg(['deploy', '--yes'], { cwd: dir })).code).toBe(0);
  });
});
