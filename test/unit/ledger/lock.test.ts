import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalError, LockHeldError } from '../../../src/errors.js';
import { acquireLock, type AcquireLockOptions, type LockHolder } from '../../../src/ledger/lock.js';

let dir: string;
let lockPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ozg-lock-'));
  lockPath = join(dir, 'lock');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NOW = new Date('2026-03-01T12:30:00.000Z');

function options(overrides: Partial<AcquireLockOptions> = {}): AcquireLockOptions {
  return { command: 'ozg deploy --all', now: () => NOW, pid: 4242, hostname: 'admin-host', user: 'alice', isProcessAlive: () => true, ...overrides };
}

function holder(overrides: Partial<LockHolder> = {}): LockHolder {
  return { pid: 777, host: 'admin-host', user: 'bob', command: 'ozg deploy kiel', startedAt: '2026-03-01T12:00:00.000Z', token: 'their-token', ...overrides };
}

/** The pid of a process that has certainly exited. */
function findDeadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid!;
}

describe('acquireLock', () => {
  it('creates the lock file naming the holder, and release removes it', async () => {
    const lock = await acquireLock(join(dir, 'nested', '.ozg'), options());
    const written = JSON.parse(await readFile(lock.path, 'utf8')) as LockHolder;
    expect(written).toMatchObject({ pid: 4242, host: 'admin-host', user: 'alice', command: 'ozg deploy --all', startedAt: NOW.toISOString() });
    expect(written.token).toBe(lock.holder.token);
    expect(lock.recovered).toBeUndefined();
    expect(await lock.release()).toBe(true);
    await expect(stat(lock.path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await lock.release()).toBe(false);
  });

  it('refuses while a live process on this host holds it, naming holder, command and time', async () => {
    await writeFile(lockPath, JSON.stringify(holder()));
    const error = await acquireLock(dir, options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as LockHeldError).exitCode).toBe(7);
    expect((error as LockHeldError).message).toBe(
      'the ledger is locked by bob@admin-host pid 777, running "ozg deploy kiel" since 2026-03-01T12:00:00.000Z (30 min ago)',
    );
    expect((error as LockHeldError).hint).toMatch(/wait for it to finish/);
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toEqual(holder());
  });

  it('refuses a lock held from another machine even if that pid is unknown here, hinting at removal', async () => {
    await writeFile(lockPath, JSON.stringify(holder({ host: 'ci-runner-3' })));
    const error = (await acquireLock(dir, options({ isProcessAlive: () => false })).catch((e: unknown) => e)) as LockHeldError;
    expect(error).toBeInstanceOf(LockHeldError);
    expect(error.message).toContain('bob@ci-runner-3 pid 777');
    expect(error.hint).toBe(`wait for it to finish, or if that process is gone from another machine, remove ${lockPath}`);
  });

  it('recovers a lock whose process on this host is dead (real pid check)', async () => {
    const deadPid = findDeadPid();
    await writeFile(lockPath, JSON.stringify(holder({ pid: deadPid })));
    const lock = await acquireLock(dir, options({ isProcessAlive: undefined, pid: process.pid }));
    expect(lock.recovered).toMatchObject({ pid: deadPid, user: 'bob' });
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ pid: process.pid, token: lock.holder.token });
    await lock.release();
  });

  it('recovers a lock left by an earlier process that had our pid (containers reuse pid 1)', async () => {
    await writeFile(lockPath, JSON.stringify(holder({ pid: 4242 })));
    const lock = await acquireLock(dir, options());
    expect(lock.recovered).toMatchObject({ pid: 4242, token: 'their-token' });
    await lock.release();
  });

  it('calls a second acquisition by the same process a bug, not a stale lock', async () => {
    const lock = await acquireLock(dir, options());
    await expect(acquireLock(dir, options())).rejects.toBeInstanceOf(InternalError);
    await lock.release();
  });

  it('only the owner releases: a lock that was replaced is left alone', async () => {
    const lock = await acquireLock(dir, options());
    const other = JSON.stringify(holder({ token: 'someone-else' }));
    await writeFile(lockPath, other);
    expect(await lock.release()).toBe(false);
    expect(lock.releaseSync()).toBe(false);
    expect(await readFile(lockPath, 'utf8')).toBe(other);
  });

  it('releaseSync removes our own lock', async () => {
    const lock = await acquireLock(dir, options());
    expect(lock.releaseSync()).toBe(true);
    await expect(stat(lockPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('treats a fresh unreadable lock as a run still starting, and an old one as abandoned', async () => {
    await writeFile(lockPath, '{"pid":12');
    const error = (await acquireLock(dir, options({ now: () => new Date() })).catch((e: unknown) => e)) as LockHeldError;
    expect(error).toBeInstanceOf(LockHeldError);
    expect(error.message).toMatch(/just starting/);

    const aMinuteAgo = new Date(Date.now() - 60_000);
    await utimes(lockPath, aMinuteAgo, aMinuteAgo);
    const lock = await acquireLock(dir, options({ now: () => new Date() }));
    expect(lock.recovered).toBe('unreadable');
    await lock.release();
  });

  it('an empty lock file (killed between create and write) counts as unreadable', async () => {
    await writeFile(lockPath, '');
    const old = new Date(Date.now() - 10_000);
    await utimes(lockPath, old, old);
    const lock = await acquireLock(dir, options({ now: () => new Date() }));
    expect(lock.recovered).toBe('unreadable');
    await lock.release();
  });

  it('lets exactly one of several simultaneous recoverers win a stale lock', async () => {
    for (let round = 0; round < 100; round++) {
      await writeFile(lockPath, JSON.stringify(holder({ pid: 9 })));
      const contenders = [101, 102, 103, 104, 105, 106].map((pid) =>
        acquireLock(dir, options({ pid, isProcessAlive: (p) => p !== 9 })),
      );
      const settled = await Promise.allSettled(contenders);
      const winners = settled.filter((s) => s.status === 'fulfilled');
      const losers = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
      expect(winners).toHaveLength(1);
      for (const loser of losers) expect(loser.reason).toBeInstanceOf(LockHeldError);
      const winner = (winners[0] as PromiseFulfilledResult<Awaited<(typeof contenders)[number]>>).value;
      expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ token: winner.holder.token });
      expect(await winner.release()).toBe(true);
    }
  });
});
