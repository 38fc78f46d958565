import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { RecordWriteError } from '../errors.js';

/**
 * Writes the report to `file` through a temporary file in the same folder and a rename: a
 * reader (a web server publishing the folder) sees the old page or the new one, never half of
 * one, and a failed write leaves nothing behind. The folder is created when missing (a CI job's
 * `public/`). Any failure is a RecordWriteError (exit 4) naming the file. The text may come in
 * pieces (a page of 11,000 sites is never one string), written in order.
 */
export async function writeReportFile(file: string, text: string | Iterable<string>): Promise<void> {
  const dir = path.dirname(file);
  const temporary = path.join(dir, `.${path.basename(file)}.${randomUUID()}.tmp`);
  let created = false;
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(temporary, 'wx', 0o644);
    created = true;
    try {
      for (const piece of typeof text === 'string' ? [text] : text) await writeFully(handle, Buffer.from(piece, 'utf8'));
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

/** A write may take part of the buffer (a full disk takes what fits, then fails): the rest follows. */
async function writeFully(handle: FileHandle, buffer: Buffer): Promise<void> {
  for (let offset = 0; offset < buffer.length; ) offset += (await handle.write(buffer, offset, buffer.length - offset)).bytesWritten;
}
