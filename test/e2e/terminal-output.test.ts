import path from 'node:path';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { copyToTemp, removeTemp, repoRoot, resultOf, runOzg, spawnOzg } from '../helpers/run-ozg.js';
import { probeInventory } from '../helpers/probe-inventory.js';
import { createMiniProject } from '../helpers/mini-project.js';
import { runOzgInPty } from '../helpers/run-in-pty.js';

/** What a person at a terminal sees: through a pseudo-terminal, as they would. */

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await removeTemp(dir);
});

/** demo 1.0.0 whose smoke check prints why it fails, then fails */
async function createFailingSmokeProject(): Promise<string> {
  const { dir } = await createMiniProject({
    'procedure.yaml': [
      'name: demo',
      'version: 1.0.0',
      'vm:',
      '  files: files',
      'smoke:',
      '  - name: config-valid',
      `    command: "for i in 1 2 3 4 5 6 7 8; do echo \\"noise $i\\"; done; echo 'config.txt: key mail is missing' >&2; printf 'bell\\\\033]0;title\\\\007\\\\n'; exit 1"`,
    ].join('\n') + '\n',
    'files/config.txt': 'site {{ site.name }}\n',
  });
  dirs.push(dir);
  return dir;
}

describe('a failed smoke check on the terminal', () => {
  it('shows the last lines of the check output, control characters escaped, under the failure', async () => {
    const dir = await createFailingSmokeProject();
    const run = await runOzgInPty(['deploy'], { cwd: dir });
    expect(run.code).toBe(5);
    const failure = run.screen.indexOf('config-valid FAILED: exit 1 (expected 0)');
    expect(failure).toBeGreaterThan(-1);
    const after = run.screen.slice(failure).split('\n').slice(1, 6).map((line) => line.trim());
    expect(after).toEqual(['| noise 6', '| noise 7', '| noise 8', '| config.txt: key mail is missing', '| bell\\x1b]0;title\\x07']);
    expect(run.screen).not.toContain('noise 3');
  });

  it('shows them in plain output (CI logs) too', async () => {
    const dir = await createFailingSmokeProject();
    const run = await runOzg(['deploy'], { cwd: dir });
    expect(run.code).toBe(5);
    expect(run.stderr).toMatch(/config-valid FAILED: exit 1 \(expected 0\) \(1 attempt, [^)]*\)\n +\| noise 6\n/);
    expect(run.stderr).toContain('| config.txt: key mail is missing\n');
  });
});

describe('the first Ctrl-C', () => {
  async function createSlowFleet(): Promise<string> {
    const dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    dirs.push(dir);
    await writeFile(path.join(dir, 'fleet.yaml'), probeInventory({ version: '1.0.0', count: 6, installDelay: 1 }).replace('concurrency: 4', 'concurrency: 2'));
    return dir;
  }

  it('says at once that it stops after the steps in flight, ends with an interrupted summary and the exact --resume command', async () => {
    const dir = await createSlowFleet();
    // Ctrl-C typed on the terminal once the first site is done: the terminal sends SIGINT
    const run = await runOzgInPty(['deploy', '-i', 'fleet.yaml'], { cwd: dir, input: { waitFor: '✔ site-', text: '\x03' } });
    expect(run.code).toBe(130);
    const screen = run.screen;
    const stopping = screen.indexOf('interrupted: stopping after the steps in flight');
    expect(stopping).toBeGreaterThan(-1);
    expect(screen).toContain('(Ctrl-C again to stop now)');
    expect(screen).not.toContain('finished with failures');
    expect(screen.indexOf('■ interrupted after')).toBeGreaterThan(stopping);
    expect(screen).toMatch(/interrupted: [1-5] site\(s\) done, (\d stopped between steps, )?[1-5] not started\.\ncontinue with: ozg deploy --resume -i fleet\.yaml\n/);

    const resumed = await runOzg(['deploy', '--resume', '-i', 'fleet.yaml'], { cwd: dir });
    expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: expect.stringContaining('resuming run') });
    expect(resultOf(await runOzg(['status', '-i', 'fleet.yaml', '--json'], { cwd: dir })).targets.every((t: any) => t.upToDate)).toBe(true);
  });

  it('in plain output (CI logs): the same message, an interrupted run line, the summary with the resume command', async () => {
    const dir = await createSlowFleet();
    const { child, done } = spawnOzg(['deploy', '-i', 'fleet.yaml'], { cwd: dir });
    let stderr = '';
    await new Promise<void>((resolve) =>
      child.stderr!.on('data', (d) => {
        stderr += d;
        if (/site-\d+: ok/.test(stderr)) resolve();
      }),
    );
    child.kill('SIGINT');
    const run = await done;
    expect(run.code).toBe(130);
    expect(run.stderr).toContain('warning: interrupted: stopping after the steps in flight');
    expect(run.stderr).toMatch(/run \S+: interrupted \(/);
    expect(run.stdout).toMatch(/interrupted: \d site\(s\) done, .*not started\.\ncontinue with: ozg deploy --resume -i fleet\.yaml\n$/);
  });
});

describe('the confirmation prompt', () => {
  it('names the environment, the number of sites and the versions; "n" changes nothing, "y" deploys', async () => {
    const dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    dirs.push(dir);
    const inventory = probeInventory({ version: '1.0.0', count: 3, versionFor: (site) => (site === 'site-003' ? '1.1.0' : undefined) });
    await writeFile(path.join(dir, 'sites.yaml'), inventory.replace('prod: { root: ./targets/prod }', 'prod: { root: ./targets/prod, confirm: true }'));
    const question = 'Deploy probe 1.0.0 and 1.1.0 to prod of 3 site(s) in data centers that ask for confirmation (local-dc)? [y/N] ';

    const declined = await runOzgInPty(['deploy'], { cwd: dir, input: { waitFor: '[y/N] ', text: 'n\r' } });
    expect(declined.screen).toContain(question);
    expect(declined.code).toBe(2);
    expect(declined.screen).toContain('deploy not confirmed; nothing was changed');
    expect(existsSync(path.join(dir, 'targets'))).toBe(false);

    const confirmed = await runOzgInPty(['deploy'], { cwd: dir, input: { waitFor: '[y/N] ', text: 'y\r' } });
    expect(confirmed.screen).toContain(question);
    // it deployed: 1.1.0 fails its smoke check in prod by design (exit 4), 1.0.0 is live in prod
    expect(confirmed.code).toBe(4);
    expect(existsSync(path.join(dir, 'targets/prod/site-001/probe/current'))).toBe(true);
  });
});
