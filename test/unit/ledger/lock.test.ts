import { jest } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalError, LockHeldError } from '../../../src/errors.js';
import { acquireLock, describeRecoveredLock, type AcquireLockOptions, type LockHolder } from '../../../src/ledger/lock.js';

let dir: string;
let lockPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ozg-lock-'));
  lockPath = join(dir, 'lock');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const STARTED = new Date(Date.now() - 30 * 60_000);

function options(overrides: Partial<AcquireLockOptions> = {}): AcquireLockOptions {
  // made-up pids: without a PID space of their own they are judged by heartbeat age alone
  return { command: 'ozg deploy --all', pid: 4242, hostname: 'admin-host', user: 'alice', pidSpace: null, ...overrides };
}

function holder(overrides: Partial<LockHolder> = {}): LockHolder {
  return { pid: 777, host: 'admin-host', user: 'bob', command: 'ozg deploy kiel', startedAt: STARTED.toISOString(), token: 'their-token', ...overrides };
}

/** Sets the lock file's heartbeat (mtime) this many ms into the past. */
async function age(path: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  await utimes(path, then, then);
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((r) => setTimeout(r, 10));
}

describe('acquireLock', () => {
  it('creates the lock file naming the holder, and release removes it', async () => {
    const lock = await acquireLock(join(dir, 'nested', '.ozg'), options());
    const written = JSON.parse(await readFile(lock.path, 'utf8')) as LockHolder;
    expect(written).toMatchObject({ pid: 4242, host: 'admin-host', user: 'alice', command: 'ozg deploy --all' });
    expect(written.token).toBe(lock.holder.token);
    expect(lock.recovered).toBeUndefined();
    expect(await lock.release()).toBe(true);
    await expect(stat(lock.path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await lock.release()).toBe(false);
  });

  it('refuses a lock with a fresh heartbeat, naming holder, command, start and heartbeat age', async () => {
    await writeFile(lockPath, JSON.stringify(holder()));
    const error = await acquireLock(dir, options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockHeldError);
    expect((error as LockHeldError).exitCode).toBe(7);
    expect((error as LockHeldError).message).toMatch(
      new RegExp(`^the ledger is locked by bob@admin-host pid 777, running "ozg deploy kiel" since ${STARTED.toISOString().replace(/\./g, '\\.')} \\(30 min ago\\); its heartbeat is \\d+ s old$`),
    );
    expect((error as LockHeldError).hint).toMatch(/wait for it to finish; a lock whose heartbeat stops for 30 s is taken over/);
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toEqual(holder());
  });

  // Containers sharing the ledger folder: both runs are pid 1 on a host of the same name, and a
  // pid that is dead in our namespace may be alive in theirs. Pids say nothing; the heartbeat does.
  it.each([
    ['the same pid and host as ours (another PID namespace)', { pid: 4242 }],
    ['a pid that does not exist here', { pid: 2 ** 22 + 17 }],
    ['pid 0', { pid: 0 }],
  ])('refuses a fresh lock held by %s', async (_, overrides) => {
    await writeFile(lockPath, JSON.stringify(holder(overrides)));
    await expect(acquireLock(dir, options())).rejects.toBeInstanceOf(LockHeldError);
  });

  it.each<[string, Partial<LockHolder>]>([
    ['the same pid and host as ours', { pid: 4242 }],
    ['a live pid (our own process)', { pid: process.pid }],
    ['pid 0', { pid: 0 }],
    ['another machine', { host: 'ci-runner-3' }],
  ])('takes over a lock whose heartbeat is older than the stale age, held by %s, and reports the dead run', async (_, overrides) => {
    await writeFile(lockPath, JSON.stringify(holder(overrides)));
    await age(lockPath, 31_000);
    const lock = await acquireLock(dir, options());
    expect(lock.recovered?.holder).toEqual(holder(overrides));
    expect(Date.parse(lock.recovered!.lastHeartbeat)).toBeLessThan(Date.now() - 30_000);
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).toMatchObject({ token: lock.holder.token });
    const warning = describeRecoveredLock(lock.path, lock.recovered!);
    expect(warning).toContain(`bob@${overrides.host ?? 'admin-host'} pid ${overrides.pid ?? 777} running "ozg deploy kiel", started ${STARTED.toISOString()}`);
    expect(warning).toMatch(/stopped mid-way/);
    await lock.release();
  });

  it('honours a custom stale age', async () => {
    await writeFile(lockPath, JSON.stringify(holder()));
    await age(lockPath, 5_000);
    await expect(acquireLock(dir, options())).rejects.toBeInstanceOf(LockHeldError);
    const lock = await acquireLock(dir, options({ staleMs: 2_000 }));
    expect(lock.recovered?.holder?.pid).toBe(777);
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

  it('judges an unreadable or empty lock by its age too', async () => {
    await writeFile(lockPath, '{"pid":12');
    const error = (await acquireLock(dir, options()).catch((e: unknown) => e)) as LockHeldError;
    expect(error).toBeInstanceOf(LockHeldError);
    expect(error.message).toMatch(/just starting/);

    await age(lockPath, 60_000);
    const lock = await acquireLock(dir, options());
    expect(lock.recovered).toMatchObject({ holder: undefined });
    expect(describeRecoveredLock(lock.path, lock.recovered!)).toMatch(/empty or unreadable/);
    await lock.release();

    await writeFile(lockPath, '');
    await age(lockPath, 60_000);
    const again = await acquireLock(dir, options());
    expect(again.recovered).toMatchObject({ holder: undefined });
    await again.release();
  });

  it('the holder refreshes its heartbeat, so its lock never goes stale while it runs', async () => {
    const lock = await acquireLock(dir, options({ heartbeatMs: 20 }));
    await age(lockPath, 60_000);
    await waitFor(async () => Date.now() - (await stat(lockPath)).mtimeMs < 30_000);
    await expect(acquireLock(dir, options({ pid: 5555 }))).rejects.toBeInstanceOf(LockHeldError);
    await lock.release();
  });

  it('reports a lock another run took over, and never refreshes that run\'s lock', async () => {
    const problems: Error[] = [];
    const lock = await acquireLock(dir, options({ heartbeatMs: 20, onHeartbeatError: (e) => problems.push(e) }));
    await writeFile(lockPath, JSON.stringify(holder({ token: 'the-taker' })));
    await age(lockPath, 60_000);
    await waitFor(async () => problems.length > 0);
    expect(problems[0]!.message).toMatch(/lost the ledger lock .*bob@admin-host pid 777/);
    expect(Date.now() - (await stat(lockPath)).mtimeMs).toBeGreaterThan(50_000);
    expect(await lock.release()).toBe(false);
  });

  it('reports a heartbeat that cannot be written', async () => {
    const problems: Error[] = [];
    const lock = await acquireLock(dir, options({ heartbeatMs: 20, onHeartbeatError: (e) => problems.push(e) }));
    // a directory where the lock file was: opening it for writing fails (EISDIR), even as root
    await rm(lockPath);
    await mkdir(lockPath);
    await waitFor(async () => problems.length > 0);
    expect(problems[0]!.message).toMatch(/could not refresh the heartbeat of the ledger lock .*EISDIR/);
    await lock.release();
  });

  it('lets exactly one of several simultaneous recoverers win a stale lock', async () => {
    for (let round = 0; round < 100; round++) {
      await writeFile(lockPath, JSON.stringify(holder({ pid: 9 })));
      await age(lockPath, 60_000);
      const contenders = [101, 102, 103, 104, 105, 106].map((pid) => acquireLock(dir, options({ pid })));
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

describe('acquireLock in the same PID space', () => {
  const space = 'boot-1/pid:[4026531836]';

  it('takes over at once a fresh lock whose holder the kernel says is gone, warning as for a stale one', async () => {
    await writeFile(lockPath, JSON.stringify(holder({ pidSpace: space })));
    const lock = await acquireLock(dir, options({ pidSpace: space, isAlive: (pid) => pid !== 777 }));
    expect(lock.recovered?.holder).toMatchObject({ pid: 777, user: 'bob' });
    await lock.release();
  });

  it('refuses a fresh lock whose holder is alive in the same PID space', async () => {
    await writeFile(lockPath, JSON.stringify(holder({ pidSpace: space })));
    await expect(acquireLock(dir, options({ pidSpace: space, isAlive: () => true }))).rejects.toBeInstanceOf(LockHeldError);
  });

  it('never asks the kernel about a pid of another PID space, boot or host: a fresh heartbeat holds', async () => {
    const isAlive = jest.fn(() => false);
    for (const other of [holder({ pidSpace: 'boot-1/pid:[4026532001]' }), holder({ pidSpace: 'boot-2/pid:[4026531836]' }), holder({ pidSpace: space, host: 'other-host' }), holder()]) {
      await writeFile(lockPath, JSON.stringify(other));
      await expect(acquireLock(dir, options({ pidSpace: space, isAlive }))).rejects.toBeInstanceOf(LockHeldError);
    }
    expect(isAlive).not.toHaveBeenCalled();
  });

  it('writes its own PID space into the lock file, so the next run on this machine may judge it', async () => {
    const lock = await acquireLock(dir, options({ pidSpace: space }));
    expect(JSON.parse(await readFile(lock.path, 'utf8'))).toMatchObject({ pidSpace: space });
    await lock.release();
  });
});
