import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { RecordWriteError } from '../errors.js';

/**
 * Writes the report to `file` through a temporary file in the same folder and a rename: a
 * reader (a web server publishing the folder) sees the old page or the new one, never half of
 * one, and a failed write leaves nothing behind. The folder is created when missing (a CI job's
 * `public/`). Any failure is a RecordWriteError (exit 4) naming the file.
 */
export async function writeReportFile(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  const temporary = path.join(dir, `.${path.basename(file)}.${randomUUID()}.tmp`);
  let created = false;
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(temporary, 'wx', 0o644);
    created = true;
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    if (created) await rm(temporary, { force: true }).catch(() => undefined);
    throw new RecordWriteError(file, (error as Error).message, {
      cause: error,
      what: `the report ${file}`,
      hint: `check that ${dir} is a folder you may write to and that its disk has space, then run the command again`,
    });
  }
}
