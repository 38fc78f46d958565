/**
 * A procedure's static files (`vm.static`): copied into the release byte for byte, never
 * rendered, so a logo, a jar or a `.js` file full of `{{` arrives as it is in the catalogue.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { RenderError } from '../errors.js';
import { resolveContainedPath } from './contained-path.js';
import { compareStrings } from './hash.js';
import type { BlobSource } from './types.js';

/**
 * Above this a static file stays on disk and is streamed to each target (a blob) instead of
 * held in memory once per run: 100 targets share the one Buffer either way, but a large file
 * would still cost its size in every process that renders.
 */
export const STATIC_BLOB_THRESHOLD = 1024 * 1024;

export interface StaticFile {
  /** path relative to the static directory, posix separators */
  path: string;
  /** the file as errors name it */
  file: string;
  /** any execute bit set on the source file */
  executable: boolean;
  /** the bytes of a small file */
  content?: Buffer;
  /** a large file: hashed here, streamed from its place in the catalogue */
  blob?: BlobSource;
}

/**
 * Every regular file under `relative` (inside `procedureDir`), sorted by path, with the same
 * containment rules as templates: the directory must really be inside the version folder and
 * a symbolic link or special file below it is refused.
 */
export async function readStaticFiles(procedureDir: string, relative: string, displayPath: (file: string) => string): Promise<StaticFile[]> {
  const root = path.resolve(procedureDir, relative);
  const found = await resolveContainedPath(procedureDir, relative);
  if (found.status === 'outside') {
    throw new RenderError(displayPath(root), `leads outside the procedure version folder (to ${found.real}) through a symbolic link`);
  }
  if (found.status !== 'inside' || found.kind !== 'directory') {
    throw new RenderError(displayPath(root), 'static directory is missing (or is not a directory)');
  }
  const files: StaticFile[] = [];
  await collect(found.real, root, found.real, displayPath, files);
  return files.sort((a, b) => compareStrings(a.path, b.path));
}

async function collect(realRoot: string, shownRoot: string, dir: string, displayPath: (file: string) => string, found: StaticFile[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const relative = path.relative(realRoot, file);
    const shown = displayPath(path.join(shownRoot, relative));
    if (entry.isDirectory()) {
      await collect(realRoot, shownRoot, file, displayPath, found);
      continue;
    }
    if (!entry.isFile()) {
      const kind = entry.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
      throw new RenderError(shown, `${kind}; static files must be regular files inside the procedure`);
    }
    const read = await readStaticFile(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ELOOP') throw error;
      throw new RenderError(shown, 'a symbolic link; static files must be regular files inside the procedure');
    });
    found.push({ path: relative.split(path.sep).join('/'), file: shown, ...read });
  }
}

/** Opened without following a link put in the file's place after it was listed. */
async function readStaticFile(file: string): Promise<Omit<StaticFile, 'path' | 'file'>> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const stat = await handle.stat();
    const executable = (stat.mode & 0o111) !== 0;
    if (stat.size <= STATIC_BLOB_THRESHOLD) return { executable, content: await handle.readFile() };
    const { sha256, size } = await hashStream(handle.createReadStream({ autoClose: false, start: 0 }));
    return { executable, blob: { sha256, size, path: file } };
  } finally {
    await handle.close();
  }
}

/** The sha256 and size of a file's bytes, read as a stream. */
export function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  return hashStream(createReadStream(file));
}

async function hashStream(stream: AsyncIterable<unknown>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}
