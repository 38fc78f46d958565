/**
 * Writes the edited inventory under the ledger lock, so a clone never lands in the middle of
 * a deploy that read the file, and only if the file still holds what the edit was made from.
 */
import { randomUUID } from 'node:crypto';
import { chmod, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { acquireLock, describeRecoveredLock } from '../ledger/lock.js';

export interface WriteInventoryOptions {
  /** absolute path of sites.yaml */
  file: string;
  /** the inventory as the user named it, for messages */
  display: string;
  ledgerDir: string;
  /** the text the edit was made from */
  before: string;
  after: string;
  /** shown to whoever finds the ledger locked */
  command: string;
  /** told when a stale lock was taken over or the lock's heartbeat failed */
  warn?: (message: string) => void;
}

export async function writeInventory(options: WriteInventoryOptions): Promise<void> {
  const lock = await acquireLock(options.ledgerDir, { command: options.command, onHeartbeatError: (error) => options.warn?.(error.message) });
  if (lock.recovered) options.warn?.(describeRecoveredLock(lock.path, lock.recovered));
  try {
    const target = await realpath(options.file); // a symlinked inventory stays a symlink
    if ((await readFile(target, 'utf8')) !== options.before) {
      throw new UsageError(`${options.display} changed while clone-procedure was working on it; nothing was written`, { hint: 'run the command again' });
    }
    // a new file renamed over the old one: a crash leaves the old inventory or the new one, never half
    const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomUUID().slice(0, 8)}.tmp`);
    try {
      const mode = (await stat(target)).mode & 0o777;
      await writeFile(temp, options.after, { mode, flag: 'wx' });
      await chmod(temp, mode); // exactly the old mode, whatever the umask
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  } finally {
    await lock.release();
  }
}
