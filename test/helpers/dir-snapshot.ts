import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The contents of some directories, kept aside to put back before each test that starts from them. */
export interface DirSnapshot {
  /** empties each directory and copies the kept contents back in */
  restore(): Promise<void>;
  /** removes the kept copies */
  discard(): Promise<void>;
}

/**
 * Takes a copy of the contents of `dirs` with `cp -a` (owners, modes and relative links kept,
 * so a release tree a VM's deploy user owns comes back as it was). The directories themselves
 * are never replaced, only emptied and refilled: a host root is the source of a bind mount.
 */
export async function snapshotDirs(dirs: string[]): Promise<DirSnapshot> {
  const stash = await mkdtemp(path.join(os.tmpdir(), 'ozg-snapshot-'));
  const kept = dirs.map((dir, index) => ({ dir, copy: path.join(stash, String(index)) }));
  for (const { dir, copy } of kept) await run('cp', ['-a', `${dir}/.`, copy]);
  return {
    async restore() {
      for (const { dir, copy } of kept) {
        await emptyDir(dir);
        await run('cp', ['-a', `${copy}/.`, dir]);
      }
    },
    discard: () => rm(stash, { recursive: true, force: true }),
  };
}

/** Removes everything inside `dir`, keeping `dir` itself. */
export async function emptyDir(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(entries.map((name) => rm(path.join(dir, name), { recursive: true, force: true })));
}
