import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { copyToTemp, ozgBin, parseJsonLines, removeTemp, repoRoot, runOzg, type OzgRun } from '../helpers/run-ozg.js';
import { writeProbeInventory } from '../helpers/probe-inventory.js';

/**
 * The ledger lock holds across PID namespaces and hosts sharing the ledger folder: pids say
 * nothing there, only the holder's heartbeat does. A lock whose heartbeat stopped is taken over
 * with a warning naming the run that died holding it.
 */
describe('the ledger lock', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
  });
  afterEach(() => removeTemp(dir));

  it('keeps two runs apart that are both pid 1 in their own PID namespaces on the same host', async () => {
    if (!existsSync('/usr/bin/unshare')) throw new Error('unshare is missing: apt-get install -y util-linux');
    if (process.getuid?.() !== 0) throw new Error('unshare --pid needs root: run this test as root (as CI does)');
    await writeProbeInventory(dir, { version: '1.0.0', count: 2, installDelay: 1.5 });
    const first = runInPidNamespace(['deploy', '-c', '1'], dir);
    await waitFor(() => existsSync(path.join(dir, '.ozg/lock')));
    const second = await runInPidNamespace(['deploy'], dir);
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 7, stderr: expect.stringMatching(/locked by .* pid 1, running "deploy".*heartbeat is \d+ s old/) });
    const done = await first;
    expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(existsSync(path.join(dir, '.ozg/lock'))).toBe(false);
  });

  it('refuses a fresh lock of this host name even when its pid does not exist here (another namespace)', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', count: 1 });
    await writeLock(dir, { pid: 2 ** 22 + 17, host: os.hostname(), startedAt: new Date().toISOString() });
    const run = await runOzg(['deploy'], { cwd: dir });
    expect(run.code).toBe(7);
    expect(run.stderr).toContain(`pid ${2 ** 22 + 17}`);
  });

  it('takes over a lock whose heartbeat stopped, warning on stderr with the dead run', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', count: 1 });
    const lockFile = await writeLock(dir, { pid: 0, startedAt: '2026-03-01T12:00:00.000Z' });
    const fresh = await runOzg(['deploy'], { cwd: dir });
    expect(fresh.code).toBe(7); // pid 0 is judged by its heartbeat like any other
    await ageFile(lockFile, 31_000);
    const run = await runOzg(['deploy'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(
      /warning: took over the stale ledger lock .*lock of bob@ci-runner-7 pid 0 running "deploy --all", started 2026-03-01T12:00:00\.000Z; its last heartbeat was at .* stopped mid-way/,
    );
    expect(existsSync(lockFile)).toBe(false);
  });

  it('with --json the takeover is a warning event', async () => {
    await writeProbeInventory(dir, { version: '1.0.0', count: 1 });
    const lockFile = await writeLock(dir, { pid: 1, startedAt: '2026-03-01T12:00:00.000Z' });
    await ageFile(lockFile, 120_000);
    const run = await runOzg(['deploy', '--json'], { cwd: dir });
    expect(run.code).toBe(0);
    const warnings = parseJsonLines(run.stdout).filter((l) => l.type === 'warning');
    expect(warnings).toEqual([{ type: 'warning', message: expect.stringMatching(/stale ledger lock .* of bob@ci-runner-7 pid 1 running "deploy --all", started 2026-03-01T12:00:00\.000Z/) }]);
  });
});

async function writeLock(dir: string, holder: { pid: number; startedAt: string; host?: string }): Promise<string> {
  await mkdir(path.join(dir, '.ozg'), { recursive: true });
  const file = path.join(dir, '.ozg/lock');
  await writeFile(file, JSON.stringify({ host: 'ci-runner-7', user: 'bob', command: 'deploy --all', token: 'dead-run', ...holder }));
  return file;
}

async function ageFile(file: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  await utimes(file, then, then);
}

/** `ozg` as pid 1 of a fresh PID namespace, like a container sharing the ledger folder. */
function runInPidNamespace(args: string[], cwd: string): Promise<OzgRun> {
  const env: Record<string, string | undefined> = { ...process.env, CI: 'true', NO_COLOR: '1' };
  delete env.OZG_INVENTORY;
  const child = spawn('/usr/bin/unshare', ['--pid', '--fork', '--mount-proc', process.execPath, ozgBin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 20));
}
