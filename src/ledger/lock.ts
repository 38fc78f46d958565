import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { mkdir, open, stat, unlink } from 'node:fs/promises';
import { hostname as osHostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { InternalError, LockHeldError } from '../errors.js';
import { isErrnoCode } from '../system-error.js';
import { systemClock } from '../clock.js';

export const LOCK_FILE = 'lock';

/**
 * A lock whose file has not been touched for this long belongs to a run that is gone. Pids
 * and host names cannot tell: two containers sharing the ledger folder are both pid 1 on a
 * host of the same name, and a pid alive here may be another namespace's. Only the holder's
 * heartbeat (the file's mtime) says it is alive.
 */
export const DEFAULT_STALE_MS = 30_000;
/** How often the holder touches its lock file; well below the stale age so a busy event loop does not lose it. */
export const DEFAULT_HEARTBEAT_MS = 5_000;

/** What the lock file says about the run holding it. */
export interface LockHolder {
  pid: number;
  host: string;
  user: string;
  command: string;
  /** ISO time */
  startedAt: string;
  /** random per acquisition: the only thing that tells one holder from another */
  token: string;
  /**
   * The kernel boot and PID namespace `pid` belongs to (Linux: boot_id and the pid namespace's
   * inode). Only a reader in the very same PID space may ask the kernel whether `pid` is alive.
   */
  pidSpace?: string;
}

/** A lock this acquisition took over: the run that held it stopped (crashed, killed) mid-way. */
export interface RecoveredLock {
  /** what the dead run's lock file said; undefined when it was empty or unreadable */
  holder?: LockHolder;
  /** ISO time of its last heartbeat (the file's mtime) */
  lastHeartbeat: string;
}

export interface AcquireLockOptions {
  /** the command line, shown to whoever finds the ledger locked */
  command: string;
  /** the holder's token (default: a random UUID); a run passes its run id, so that a run taking over this lock knows which run died */
  token?: string;
  now?: () => Date;
  pid?: number;
  hostname?: string;
  /** the PID space `pid` lives in (default: this process's, where the system tells it) */
  pidSpace?: string | null;
  /** whether a pid of our own PID space is running (default: kill(pid, 0)) */
  isAlive?: (pid: number) => boolean;
  user?: string;
  /** a lock whose heartbeat is older than this is taken over (default 30 s) */
  staleMs?: number;
  /** how often the holder refreshes its heartbeat (default 5 s) */
  heartbeatMs?: number;
  /** how long to keep trying while other processes are recovering the same stale lock (default 3 s) */
  contentionTimeoutMs?: number;
  /**
   * Called when the heartbeat could not be written, or the lock is no longer ours (another run
   * judged it stale and took it): the caller must tell the user, because another run may now work
   * on the same ledger and targets. Without it such failures are thrown away — so pass one.
   */
  onHeartbeatError?: (error: Error) => void;
}

export interface LedgerLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** the abandoned lock this acquisition replaced, so the caller can warn about it */
  readonly recovered?: RecoveredLock;
  /** removes the lock file if it is still ours; false when it was not (or already released) */
  release(): Promise<boolean>;
  /** for a process 'exit' handler, where nothing async runs any more */
  releaseSync(): boolean;
}

/** A recoverer holds `lock.break` for microseconds; one older than this died while holding it. */
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
  pidSpace?: string;
  isAlive: (pid: number) => boolean;
  now: () => Date;
  staleMs: number;
}

type Verdict = { kind: 'stale' } | { kind: 'held'; error: LockHeldError };

/**
 * Takes `<dir>/lock` so that only one ozg run writes the ledger: created with O_EXCL, kept
 * alive by a heartbeat, taken over only when its heartbeat is older than `staleMs`. Any other
 * existing lock throws LockHeldError naming its holder.
 */
export async function acquireLock(dir: string, options: AcquireLockOptions): Promise<LedgerLock> {
  const now = options.now ?? systemClock.now;
  const pid = options.pid ?? process.pid;
  const host = options.hostname ?? osHostname();
  const pidSpace = options.pidSpace === null ? undefined : (options.pidSpace ?? currentPidSpace());
  const ctx: LockContext = {
    path: join(dir, LOCK_FILE),
    pid,
    host,
    ...(pidSpace ? { pidSpace } : {}),
    isAlive: options.isAlive ?? isProcessAlive,
    now,
    staleMs: options.staleMs ?? DEFAULT_STALE_MS,
  };
  const holder: LockHolder = {
    pid,
    host,
    user: options.user ?? currentUser(),
    command: options.command,
    startedAt: now().toISOString(),
    token: options.token ?? randomUUID(),
    ...(pidSpace ? { pidSpace } : {}),
  };
  await mkdir(dir, { recursive: true });

  const deadline = systemClock.monotonicMs() + (options.contentionTimeoutMs ?? 3_000);
  let recovered: RecoveredLock | undefined;
  for (;;) {
    if (await tryCreateLock(ctx.path, holder)) {
      heldTokens.add(holder.token);
      return createHandle(ctx, holder, recovered, options);
    }
    // undefined: released between our attempt and the read, so simply try again
    const seen = await readLockFile(ctx.path);
    let outcome: Awaited<ReturnType<typeof breakStaleLock>> | undefined;
    if (seen) {
      const verdict = judgeLock(seen, ctx);
      if (verdict.kind === 'held') throw verdict.error;
      outcome = await breakStaleLock(seen, ctx);
      if (outcome === 'broken') recovered = { holder: seen.holder, lastHeartbeat: new Date(seen.mtimeMs).toISOString() };
    }
    if (systemClock.monotonicMs() > deadline) {
      throw new LockHeldError(`the ledger lock ${ctx.path} is contended: other runs keep taking it`, {
        hint: 'wait for the other ozg runs to finish, then try again',
      });
    }
    if (outcome === 'busy') await sleep(20);
  }
}

/** One line for a warning: who held the lock the caller took over, and that it stopped mid-way. */
export function describeRecoveredLock(path: string, recovered: RecoveredLock): string {
  const { holder } = recovered;
  const who = holder
    ? `${holder.user}@${holder.host} pid ${holder.pid} running "${holder.command}", started ${holder.startedAt}`
    : 'a run whose lock file was empty or unreadable';
  return (
    `took over the stale ledger lock ${path} of ${who}; its last heartbeat was at ${recovered.lastHeartbeat}. ` +
    'That run stopped mid-way (crashed or killed): its last steps may be unrecorded; check its targets with `ozg status`'
  );
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
  // half-written lock like any other: held while its mtime is fresh.
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
    // torn or hand-edited: judged by age like any other
  }
  return undefined;
}

function judgeLock(state: LockFileState, ctx: LockContext): Verdict {
  const { holder } = state;
  if (holder && holder.pid === ctx.pid && holder.host === ctx.host && heldTokens.has(holder.token)) {
    throw new InternalError(`this process already holds the ledger lock ${ctx.path}`);
  }
  const ageMs = ctx.now().getTime() - state.mtimeMs;
  if (ageMs > ctx.staleMs) return { kind: 'stale' };
  // A run killed a moment ago on this very machine and PID namespace need not keep the next
  // one waiting for its heartbeat to age: here (and only here) the kernel can say it is gone.
  if (holder?.pidSpace && holder.pidSpace === ctx.pidSpace && holder.host === ctx.host && !ctx.isAlive(holder.pid)) return { kind: 'stale' };
  const heartbeat = `its heartbeat is ${Math.max(0, Math.round(ageMs / 1000))} s old`;
  const hint = `wait for it to finish; a lock whose heartbeat stops for ${Math.round(ctx.staleMs / 1000)} s is taken over by the next run`;
  if (!holder) {
    return {
      kind: 'held',
      error: new LockHeldError(`the ledger is locked by another ozg run that is just starting (${ctx.path}, ${heartbeat})`, { hint }),
    };
  }
  const since = describeSince(holder.startedAt, ctx.now());
  return {
    kind: 'held',
    error: new LockHeldError(
      `the ledger is locked by ${holder.user}@${holder.host} pid ${holder.pid}, running "${holder.command}" since ${since}; ${heartbeat}`,
      { hint },
    ),
  };
}

/**
 * Removes a stale lock. Unlinking is not conditional, so two processes recovering at once could
 * each remove the other's fresh lock; a short-lived `lock.break` file (O_EXCL) serialises
 * recoverers, and under it the lock is re-read and must be the very file judged stale (same
 * inode and content) and still stale. The fresh lock is then created with O_EXCL, so of several
 * recoverers exactly one gets it.
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
    // against the file system's mtime: wall-clock time, whatever clock the run was given
    if (info && Date.now() - info.mtimeMs > BREAK_STALE_MS) await unlink(breakPath).catch(() => undefined);
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

function createHandle(ctx: LockContext, holder: LockHolder, recovered: RecoveredLock | undefined, options: AcquireLockOptions): LedgerLock {
  const { path } = ctx;
  const isOurs = (raw: string | undefined) => raw !== undefined && parseHolder(raw)?.token === holder.token;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  let released = false;
  let timer: NodeJS.Timeout | undefined;
  let lastReported: string | undefined;

  const beat = async (): Promise<void> => {
    // Touch the file through a handle whose content we checked, so a lock another run took
    // over is never kept alive by us.
    const handle = await open(path, 'r+').catch((error: unknown) => {
      if (isErrnoCode(error, 'ENOENT')) return undefined;
      throw error;
    });
    if (!handle) throw new LockLostError(path, 'the lock file was removed');
    try {
      const raw = await handle.readFile('utf8');
      if (!isOurs(raw)) {
        const other = parseHolder(raw);
        throw new LockLostError(path, other ? `${other.user}@${other.host} pid ${other.pid} ("${other.command}") holds it now` : 'it holds something else now');
      }
      const at = new Date();
      await handle.utimes(at, at);
    } finally {
      await handle.close();
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      beat().then(
        () => {
          lastReported = undefined;
          if (!released) schedule();
        },
        (error: unknown) => {
          if (released) return;
          const lost = error instanceof LockLostError;
          const surfaced = lost
            ? error
            : new Error(`could not refresh the heartbeat of the ledger lock ${path}: ${(error as Error).message ?? String(error)}; another run may take the lock over`, { cause: error });
          // a failure that keeps repeating is told once, not every few seconds
          if (surfaced.message !== lastReported) options.onHeartbeatError?.(surfaced);
          lastReported = surfaced.message;
          // a write that failed may work next time; a lock that is gone stays gone
          if (!lost) schedule();
        },
      );
    }, heartbeatMs);
    // the heartbeat must never keep a finished process alive
    timer.unref();
  };
  schedule();
  const stop = () => {
    released = true;
    if (timer) clearTimeout(timer);
    heldTokens.delete(holder.token);
  };

  return {
    path,
    holder,
    recovered,
    async release() {
      stop();
      // unreadable (replaced by something that is not a lock file): not ours to remove
      const state = await readLockFile(path).catch(() => undefined);
      if (!isOurs(state?.raw)) return false;
      await unlink(path).catch(() => undefined);
      return true;
    },
    releaseSync() {
      stop();
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

/** The lock file no longer carries our token: another run judged our heartbeat stale and took it. */
class LockLostError extends Error {
  constructor(path: string, detail: string) {
    super(`lost the ledger lock ${path}: ${detail}; another run may be working on the same ledger and targets`);
  }
}

/** `<boot id>/<pid namespace>` on Linux; undefined where the system does not tell (then only the heartbeat's age counts). */
function currentPidSpace(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const namespace = readlinkSync('/proc/self/ns/pid');
    return boot && namespace ? `${boot}/${namespace}` : undefined;
  } catch {
    return undefined;
  }
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true; // not a pid we may ask about: judged by age
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours
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
