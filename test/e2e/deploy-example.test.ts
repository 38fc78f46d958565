import path from 'node:path';
import { readFile, readlink, stat } from 'node:fs/promises';
import { snapshotDirs, type DirSnapshot } from '../helpers/dir-snapshot.js';
import { copyExampleToTemp, removeTemp, resultOf, runOzg, type OzgRun } from '../helpers/run-ozg.js';

/** The README's main command on a fresh copy, then a no-op rerun. */
describe('the built-in example', () => {
  let dir: string;
  /** the README's command run once on a fresh copy */
  let first: OzgRun;
  /** the copy right after that deploy: put back before each test, whatever the one before did */
  let deployed: DirSnapshot;
  beforeAll(async () => {
    dir = await copyExampleToTemp('sites.example.yaml');
    first = await runOzg(['deploy', '-i', 'sites.example.yaml'], { cwd: dir });
    deployed = await snapshotDirs([dir]);
  });
  beforeEach(() => deployed.restore());
  afterAll(async () => {
    await deployed?.discard();
    await removeTemp(dir);
  });

  it('deploys every site to test and prod, records it, and a rerun changes nothing', async () => {
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(first.stdout).toMatch(/kiel\s+antrag-formular 1\.1\.0\s+test: applied .*prod: applied/);
    expect(first.stdout).toMatch(/luebeck\s+antrag-formular 1\.0\.0/);

    const history = resultOf(await runOzg(['history', '-i', 'sites.example.yaml', '--json'], { cwd: dir }));
    const applied = history.records.filter((r: any) => r.outcome === 'applied');
    expect(applied).toHaveLength(8); // kiel ×2 procedures, luebeck, hohner-harde; × test and prod
    expect(applied.every((r: any) => r.smoke.length > 0 && r.smoke.every((s: any) => s.passed))).toBe(true);

    const live = await readlink(path.join(dir, '.ozg/targets/prod/kiel/antrag-formular/current'));
    expect(live).toMatch(/^releases\/\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    const secretFile = (await stat(path.join(dir, '.ozg/targets/prod/kiel/antrag-formular', live, 'config/smtp.env'))).mode & 0o777;
    expect(secretFile).toBe(0o600);

    const second = await runOzg(['deploy', '-i', 'sites.example.yaml', '--json'], { cwd: dir });
    expect(second.code).toBe(0);
    const again = resultOf(second);
    expect(again.sites.map((s: any) => s.result)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    const after = resultOf(await runOzg(['history', '-i', 'sites.example.yaml', '--json'], { cwd: dir }));
    expect(after.records).toHaveLength(history.records.length);

    const plan = await runOzg(['plan', '-i', 'sites.example.yaml'], { cwd: dir });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('No changes');
  });

  it('never prints or records a secret value', async () => {
    const ledger = await readFile(path.join(dir, '.ozg/ledger.jsonl'), 'utf8');
    const status = await runOzg(['status', '-i', 'sites.example.yaml', '--json'], { cwd: dir });
    for (const secret of ['demo-smtp-password-kiel', 'demo-archive-token-kiel']) {
      expect(ledger).not.toContain(secret);
      expect(status.stdout + status.stderr).not.toContain(secret);
      expect(first.stdout + first.stderr).not.toContain(secret);
    }
  });
});
