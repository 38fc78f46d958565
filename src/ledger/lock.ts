import { randomUUID } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { hostname as osHostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { InternalError, LockHeldError } from '../errors.js';

export const LOCK_FILE = 'lock';

/** What the lock file says about the run holding it. */
export interface LockHolder {
  pid: number;
  host: string;
  user: string;
  command: string;
  /** ISO time */
  startedAt: string;
  /** random per acquisition: tells our lock from a recycled pid's */
  token: string;
}

export interface AcquireLockOptions {
  /** the command line, shown to whoever finds the ledger locked */
  command: string;
  now?: () => Date;
  pid?: number;
  hostname?: string;
  user?: string;
  /** default: `process.kill(pid, 0)`; only asked about pids on this host */
  isProcessAlive?: (pid: number) => boolean;
  /** an unreadable lock younger than this may belong to a run still writing it (default 5 s) */
  unreadableGraceMs?: number;
  /** how long to keep trying while other processes are recovering the same stale lock (default 3 s) */
  contentionTimeoutMs?: number;
}

export interface LedgerLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** the abandoned lock this acquisition replaced, so the caller can mention it */
  readonly recovered?: LockHolder | 'unreadable';
  /** removes the lock file if it is still ours; false when it was not (or already released) */
  release(): Promise<boolean>;
  /** for a process 'exit' handler, where nothing async runs any more */
  releaseSync(): boolean;
}

/** A lock that a recovering process held for longer than this died while holding it. */
const BREAK_STALE_MS = 10_000;

/** Lock tokens this process holds, so a second acquisition in-process is a bug, not a stale lock. */
const heldTokens = new Set<string>();

interface LockFileState {
  raw: string;
  holder?: LockHolder;
  ino: number;
  mtimeMs: number;
}

interface LockContext {
  path: string;
  pid: number;
  host: string;
  now: () => Date;
  isProcessAlive: (pid: number) => boolean;
  unreadableGraceMs: number;
}

type Verdict = { kind: 'stale' } | { kind: 'held'; error: LockHeldError };

/**
 * Takes `<dir>/lock` so that only one ozg run writes the ledger. A lock left by a dead process
 * on this host is recovered; any other existing lock throws LockHeldError naming its holder.
 */
export async function acquireLock(dir: string, options: AcquireLockOptions): Promise<LedgerLock> {
  const now = options.now ?? (() => new Date());
  const ctx: LockContext = {
    path: join(dir, LOCK_FILE),
    pid: options.pid ?? process.pid,
    host: options.hostname ?? osHostname(),
    now,
    isProcessAlive: options.isProcessAlive ?? isProcessAlive,
    unreadableGraceMs: options.unreadableGraceMs ?? 5_000,
  };
  const holder: LockHolder = {
    pid: ctx.pid,
    host: ctx.host,
    user: options.user ?? currentUser(),
    command: options.command,
    startedAt: now().toISOString(),
    token: randomUUID(),
  };
  await mkdir(dir, { recursive: true });

  const deadline = Date.now() + (options.contentionTimeoutMs ?? 3_000);
  let recovered: LockHolder | 'unreadable' | undefined;
  for (;;) {
    if (await tryCreateLock(ctx.path, holder)) {
      heldTokens.add(holder.token);
      return createHandle(ctx.path, holder, recovered);
    }
    // undefined: released between our attempt and the read, so simply try again
    const seen = await readLockFile(ctx.path);
    let outcome: Awaited<ReturnType<typeof breakStaleLock>> | undefined;
    if (seen) {
      const verdict = judgeLock(seen, ctx);
      if (verdict.kind === 'held') throw verdict.error;
      outcome = await breakStaleLock(seen, ctx);
      if (outcome === 'broken') recovered = seen.holder ?? 'unreadable';
    }
    if (Date.now() > deadline) {
      throw new LockHeldError(`the ledger lock ${ctx.path} is contended: other runs keep taking it`, {
        hint: 'wait for the other ozg runs to finish, then try again',
      });
    }
    if (outcome === 'busy') await sleep(20);
  }
}

async function tryCreateLock(path: string, holder: LockHolder): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (error) {
    if (isErrnoCode(error, 'EEXIST')) return false;
    throw error;
  }
  // Between the create above and this write the file is empty; readers treat an empty or
  // half-written lock as "starting up" until it is older than the grace period.
  try {
    await handle.writeFile(JSON.stringify(holder) + '\n', 'utf8');
    await handle.datasync();
  } catch (error) {
    await handle.close();
    await unlink(path).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return true;
}

async function readLockFile(path: string): Promise<LockFileState | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  try {
    const { ino, mtimeMs } = await handle.stat();
    const raw = await handle.readFile('utf8');
    return { raw, holder: parseHolder(raw), ino, mtimeMs };
  } finally {
    await handle.close();
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder> | null;
    if (
      value &&
      typeof value.pid === 'number' &&
      typeof value.host === 'string' &&
      typeof value.user === 'string' &&
      typeof value.command === 'string' &&
      typeof value.startedAt === 'string' &&
      typeof value.token === 'string'
    ) {
      return value as LockHolder;
    }
  } catch {
    // torn or hand-edited: handled as unreadable
  }
  return undefined;
}

function judgeLock(state: LockFileState, ctx: LockContext): Verdict {
  const { holder } = state;
  if (!holder) {
    const ageMs = ctx.now().getTime() - state.mtimeMs;
    if (ageMs > ctx.unreadableGraceMs) return { kind: 'stale' };
    return {
      kind: 'held',
      error: new LockHeldError(`the ledger is locked by another ozg run that is just starting (${ctx.path})`, {
        hint: `try again in a few seconds; if the lock file stays unreadable, remove ${ctx.path}`,
      }),
    };
  }
  if (holder.host === ctx.host) {
    if (holder.pid === ctx.pid) {
      if (heldTokens.has(holder.token)) {
        throw new InternalError(`this process already holds the ledger lock ${ctx.path}`);
      }
      // Our own pid, but not our lock: an earlier process with a recycled pid (pid 1 in a container).
      return { kind: 'stale' };
    }
    if (!ctx.isProcessAlive(holder.pid)) return { kind: 'stale' };
  }
  const since = describeSince(holder.startedAt, ctx.now());
  const hint =
    holder.host === ctx.host
      ? `wait for it to finish (pid ${holder.pid} is still running on this machine)`
      : `wait for it to finish, or if that process is gone from another machine, remove ${ctx.path}`;
  return {
    kind: 'held',
    error: new LockHeldError(
      `the ledger is locked by ${holder.user}@${holder.host} pid ${holder.pid}, running "${holder.command}" since ${since}`,
      { hint },
    ),
  };
}

/**
 * Removes a stale lock. Unlinking is not conditional, so two processes recovering at once could
 * each remove the other's fresh lock; a short-lived `lock.break` file serialises recoverers, and
 * under it the lock is re-read and must be the very file judged stale (same inode and content).
 */
async function breakStaleLock(seen: LockFileState, ctx: LockContext): Promise<'broken' | 'changed' | 'busy'> {
  const breakPath = ctx.path + '.break';
  let handle;
  try {
    handle = await open(breakPath, 'wx');
  } catch (error) {
    if (!isErrnoCode(error, 'EEXIST')) throw error;
    const info = await stat(breakPath).catch(() => undefined);
    // A recoverer killed inside this microsecond-wide section leaves the break file behind.
    if (info && ctx.now().getTime() - info.mtimeMs > BREAK_STALE_MS) await unlink(breakPath).catch(() => undefined);
    return 'busy';
  }
  try {
    const current = await readLockFile(ctx.path);
    if (!current || current.ino !== seen.ino || current.raw !== seen.raw) return 'changed';
    if (judgeLock(current, ctx).kind !== 'stale') return 'changed';
    await unlink(ctx.path).catch((error: unknown) => {
      if (!isErrnoCode(error, 'ENOENT')) throw error;
    });
    return 'broken';
  } finally {
    await handle.close();
    await unlink(breakPath).catch(() => undefined);
  }
}

function createHandle(path: string, holder: LockHolder, recovered: LockHolder | 'unreadable' | undefined): LedgerLock {
  const isOurs = (raw: string | undefined) => raw !== undefined && parseHolder(raw)?.token === holder.token;
  return {
    path,
    holder,
    recovered,
    async release() {
      const state = await readLockFile(path);
      heldTokens.delete(holder.token);
      if (!isOurs(state?.raw)) return false;
      await unlink(path).catch(() => undefined);
      return true;
    },
    releaseSync() {
      heldTokens.delete(holder.token);
      let raw: string | undefined;
      try {
        raw = readFileSync(path, 'utf8');
      } catch {
        return false;
      }
      if (!isOurs(raw)) return false;
      try {
        unlinkSync(path);
        return true;
      } catch {
        return false;
      }
    },
  };
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else
    return !isErrnoCode(error, 'ESRCH');
  }
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // no passwd entry (containers with arbitrary uids)
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

function describeSince(startedAt: string, now: Date): string {
  const started = Date.parse(startedAt);
  if (Number.isNaN(started)) return startedAt;
  const minutes = Math.round((now.getTime() - started) / 60_000);
  const ago = minutes < 1 ? 'less than a minute ago' : minutes < 120 ? `${minutes} min ago` : `${Math.round(minutes / 60)} h ago`;
  return `${startedAt} (${ago})`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
