import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Reporter } from '../events.js';
import { describeWriteFailure, OzgError, RecordWriteError } from '../errors.js';
import { acquireLock, describeRecoveredLock, type LedgerLock } from '../ledger/lock.js';

export interface TakeLedgerLockOptions {
  ledgerDir: string;
  command: string;
  /** the run's id, the lock's token */
  run: string;
  actor: string;
  clock: Clock;
  reporter: Reporter;
}

/** The ledger lock of a command that changes a target or the ledger; a lock the disk refuses is the user's to fix. */
export async function takeLedgerLock(options: TakeLedgerLockOptions): Promise<LedgerLock> {
  const { ledgerDir, reporter } = options;
  const lock = await acquireLock(ledgerDir, {
    command: options.command,
    token: options.run,
    user: options.actor.split('@')[0]!,
    hostname: os.hostname(),
    pid: process.pid,
    now: () => options.clock.now(),
    onHeartbeatError: (error) => reporter.emit({ type: 'warning', message: error.message }),
  }).catch((error: unknown) => {
    // a lock that cannot be written (full disk, read-only folder) is the user's to fix, not a bug
    if (error instanceof OzgError) throw error;
    throw new RecordWriteError(path.join(ledgerDir, 'lock'), describeWriteFailure(error), {
      cause: error,
      what: `the ledger lock in ${ledgerDir}`,
      hint: `free space on (or repair) the disk holding ${ledgerDir}, or make it writable; nothing was deployed`,
    });
  });
  // the run that left it stopped mid-deploy: its last steps may be live but unrecorded
  if (lock.recovered) reporter.emit({ type: 'warning', message: describeRecoveredLock(lock.path, lock.recovered) });
  return lock;
}

/** A second Ctrl-C waits at most this long for scripts and connections to end before it releases the lock. */
const STOP_NOW_LIMIT_MS = 10_000;

export interface StopNow {
  /** ledger appends under way: a second Ctrl-C lets them finish */
  appending: Set<Promise<unknown>>;
  /** a second Ctrl-C has ended the run: the lock is going, nothing more is written */
  stopped(): boolean;
  stop(): Promise<void>;
}

/**
 * A second Ctrl-C (from here on, also while a large ledger is read): closing the drivers ends
 * running scripts (SIGTERM, then SIGKILL) and connections; records being appended finish;
 * then the lock goes, and nothing is written after.
 */
export function createStopNow(closeDrivers: () => Promise<void>, lock: LedgerLock | undefined): StopNow {
  const appending = new Set<Promise<unknown>>();
  let stoppedNow = false;
  return {
    appending,
    stopped: () => stoppedNow,
    async stop() {
      await Promise.race([closeDrivers(), new Promise((resolve) => setTimeout(resolve, STOP_NOW_LIMIT_MS).unref())]);
      await Promise.allSettled(appending);
      stoppedNow = true;
      await lock?.release();
    },
  };
}
