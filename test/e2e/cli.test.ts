import path from 'node:path';
import os from 'node:os';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { copyToTemp, removeTemp, repoRoot, parseJsonLines, runOzg } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

describe('the ozg command line', () => {
  // a fresh, undeployed project per test: none sees what another deployed or left behind
  let dir: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    await writeProbeInventory(dir, { version: '1.0.0', sites: ['kiel', 'luebeck'] });
  });
  afterEach(() => removeTemp(dir));

  it('prints its version and help', async () => {
    const version = await runOzg(['--version'], { cwd: dir });
    expect(version).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    const help = await runOzg(['--help'], { cwd: dir });
    for (const command of ['deploy', 'plan', 'status', 'history', 'rollback', 'test', 'validate', 'render']) expect(help.stdout).toContain(command);
  });

  it('exits 2 on wrong usage', async () => {
    const run = await runOzg(['deploy', '--no-such-flag'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown option');
    expect((await runOzg(['deploy', 'no-such-site'], { cwd: dir })).code).toBe(2);
  });

  it('exits 3 when the inventory does not exist', async () => {
    const run = await runOzg(['validate', '-i', 'missing.yaml'], { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('missing.yaml');
  });

  it('finds the inventory through OZG_INVENTORY', async () => {
    const elsewhere = await copyToTemp([]);
    try {
      const run = await runOzg(['validate'], { cwd: elsewhere, env: { OZG_INVENTORY: path.join(dir, 'sites.yaml') } });
      expect(run.code).toBe(0);
    } finally {
      await removeTemp(elsewhere);
    }
  });

  it('plan exits 10 while changes are pending and 0 after deploy', async () => {
    const plan = await runOzg(['plan'], { cwd: dir });
    expect(plan.code).toBe(10);
    expect(plan.stdout).toMatch(/kiel\s+test\s+probe\s+install/);
    expect((await runOzg(['deploy', 'kiel'], { cwd: dir })).code).toBe(0);
    const partial = await runOzg(['plan', '-l', 'state=SH'], { cwd: dir });
    expect(partial.code).toBe(10);
    expect(partial.stdout).not.toMatch(/kiel\s+test\s+probe\s+install/);
    expect((await runOzg(['plan', 'kiel'], { cwd: dir })).code).toBe(0);
  });

  it('exits 7 while another run holds the lock, naming the holder', async () => {
    await mkdir(path.join(dir, '.ozg'), { recursive: true });
    const holder = { pid: process.pid, host: os.hostname(), user: 'someone', command: 'deploy', startedAt: new Date().toISOString(), token: 'held-by-the-test' };
    await writeFile(path.join(dir, '.ozg/lock'), JSON.stringify(holder));
    try {
      const run = await runOzg(['deploy'], { cwd: dir });
      expect(run.code).toBe(7);
      expect(run.stderr).toContain(`pid ${process.pid}`);
    } finally {
      await rm(path.join(dir, '.ozg/lock'), { force: true });
    }
  });

  it('--json writes one JSON object per line on stdout and nothing human', async () => {
    const run = await runOzg(['deploy', '--json'], { cwd: dir });
    expect(run.code).toBe(0);
    const lines = parseJsonLines(run.stdout);
    expect(lines.at(-1)!.type).toBe('result');
    expect(lines.some((l) => l.type === 'site-finished')).toBe(true);
  });

  it('render writes redacted bundles for review', async () => {
    const run = await runOzg(['render', '--out', 'review', 'kiel'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(path.join('review', 'kiel', 'test', 'probe'));
  });
});
