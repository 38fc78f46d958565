import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyToTemp, removeTemp, runOzg, spawnOzg } from '../helpers/run-ozg.js';
import { localInventoryYaml } from '../helpers/mini-project.js';

/**
 * A second Ctrl-C leaves at once, but not before the install scripts still running (in
 * process groups of their own, which the terminal's Ctrl-C never reaches) are ended and
 * the lock is released: the next deploy must never install on a target concurrently.
 */

const SITES = ['site-001', 'site-002'];

/** `sleeper`: its install notes its pid and process group, then (with `hang`) ignores SIGTERM and sleeps, with a grandchild. */
async function writeFixture(dir: string, out: string, hang: boolean): Promise<void> {
  const version = path.join(dir, 'templates/sleeper/1.0.0');
  await mkdir(path.join(version, 'vm/hooks'), { recursive: true });
  await writeFile(
    path.join(version, 'procedure.yaml'),
    [
      'name: sleeper',
      'version: 1.0.0',
      'description: an install that takes its time',
      'values:',
      '  type: object',
      '  additionalProperties: false',
      '  properties:',
      '    hang: { type: boolean, default: false }',
      'secrets: []',
      'vm:',
      '  files: vm',
      '  hooks:',
      '    install: hooks/install.sh',
      'smoke:',
      '  - name: installed',
      '    command: "test -f hooks/install.sh"',
      '',
    ].join('\n'),
  );
  await writeFile(
    path.join(version, 'vm/hooks/install.sh'),
    [
      '#!/bin/sh',
      `out=${JSON.stringify(out)}`,
      '{% if values.hang %}',
      // SIGTERM is ignored (and so by the sleeps too): only the SIGKILL after the grace ends them
      "trap '' TERM",
      'sleep 301 &',
      'echo "$$ $(cut -d" " -f5 /proc/$$/stat)" > "$out/pid-$OZG_SITE-$OZG_ENVIRONMENT.tmp"',
      'mv "$out/pid-$OZG_SITE-$OZG_ENVIRONMENT.tmp" "$out/pid-$OZG_SITE-$OZG_ENVIRONMENT"',
      'sleep 300',
      '{% endif %}',
      'exit 0',
      '',
    ].join('\n'),
  );
  const sites = SITES.map((name) => ({ name, procedures: { sleeper: { version: '1.0.0', values: `{ hang: ${hang} }` } } }));
  await writeFile(path.join(dir, 'sites.yaml'), localInventoryYaml({ concurrency: 2, sites }));
}

/** Live (not zombie) processes in a process group, from /proc. */
async function liveMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // fields after the parenthesised command name: state, ppid, pgrp, ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
  }
  return members;
}

async function readGroups(out: string): Promise<number[]> {
  const files = (await readdir(out)).filter((f) => f.startsWith('pid-') && !f.endsWith('.tmp'));
  return Promise.all(files.map(async (f) => Number((await readFile(path.join(out, f), 'utf8')).trim().split(' ')[1])));
}

describe('a second Ctrl-C', () => {
  let dir: string;
  let out: string;
  beforeEach(async () => {
    dir = await copyToTemp([]);
    out = path.join(dir, 'out');
    await mkdir(out);
  });
  afterEach(async () => {
    // a hook an old ozg left behind: stopped by its own process group id
    for (const pgid of await readGroups(out).catch(() => [])) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone, as it should be
      }
    }
    await removeTemp(dir);
  });

  it('ends the running install process groups, releases the lock, exits 130, and the next deploy takes the lock', async () => {
    await writeFixture(dir, out, true);
    const { child, done } = spawnOzg(['deploy'], { cwd: dir });
    // both sites' installs are running (pid files are renamed into place once complete)
    let exited: { stderr: string } | undefined;
    void done.then((run) => (exited = run));
    while ((await readGroups(out)).length < SITES.length) {
      if (exited) throw new Error(`ozg ended before the installs ran:\n${exited.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const groups = await readGroups(out);
    for (const pgid of groups) expect((await liveMembers(pgid)).length).toBeGreaterThanOrEqual(2);

    let stderr = '';
    const firstSeen = new Promise<void>((resolve) =>
      child.stderr!.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Ctrl-C again')) resolve();
      }),
    );
    child.kill('SIGINT');
    // the second only once the first was taken (two signals at once may reach ozg as one); an
    // ozg that does not say so gets it a little later
    await Promise.race([firstSeen, new Promise((r) => setTimeout(r, 3000))]);
    child.kill('SIGINT');
    const run = await done;

    expect(run.code).toBe(130);
    expect(run.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    for (const pgid of groups) expect({ pgid, members: await liveMembers(pgid) }).toEqual({ pgid, members: [] });
    expect(existsSync(path.join(dir, '.ozg/lock'))).toBe(false);

    // the next deploy takes the lock at once (no stale lock to judge) and finishes the job
    await writeFixture(dir, out, false);
    const next = await runOzg(['deploy'], { cwd: dir });
    expect(next.stderr).not.toMatch(/lock/i);
    expect(next.code).toBe(0);
  }, 120_000);
});
