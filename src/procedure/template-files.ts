/** Reading a procedure's template directory: every regular file below it is a template. */
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { RenderError } from '../errors.js';
import { resolveContainedPath } from './contained-path.js';
import { compareStrings } from './hash.js';

export interface TemplateFile {
  /** path relative to the template directory, posix separators */
  path: string;
  /** absolute path, for error messages */
  file: string;
  source: string;
  /** any execute bit set on the source file */
  executable: boolean;
}

/**
 * Every regular file under `relative` (a directory inside the procedure folder `procedureDir`),
 * sorted by path. The directory must really be inside the procedure folder (no symlinked
 * component on the way), and symlinks below it are refused (they could pull in files from
 * outside the procedure); so is anything that is not UTF-8 text, because a binary file cannot
 * go through Liquid unharmed. `displayPath` names files in errors.
 */
export async function readTemplateFiles(procedureDir: string, relative: string, displayPath: (file: string) => string): Promise<TemplateFile[]> {
  const root = path.resolve(procedureDir, relative);
  const found = await resolveContainedPath(procedureDir, relative);
  if (found.status === 'outside') {
    throw new RenderError(displayPath(root), `leads outside the procedure version folder (to ${found.real}) through a symbolic link`);
  }
  if (found.status !== 'inside' || found.kind !== 'directory') {
    throw new RenderError(displayPath(root), 'template directory is missing (or is not a directory)');
  }
  const files: TemplateFile[] = [];
  // read from the resolved directory, files named as the procedure names them
  await collect({ real: found.real, shown: root }, found.real, displayPath, files);
  return files.sort((a, b) => compareStrings(a.path, b.path));
}

/** A file's bytes, refusing to follow a symbolic link put in its place after it was listed. */
async function readRegularFile(file: string): Promise<{ bytes: Buffer; mode: number }> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const [bytes, stat] = await Promise.all([handle.readFile(), handle.stat()]);
    return { bytes, mode: stat.mode };
  } finally {
    await handle.close();
  }
}

async function collect(root: { real: string; shown: string }, dir: string, displayPath: (file: string) => string, found: TemplateFile[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const relative = path.relative(root.real, file);
    const shown = path.join(root.shown, relative);
    if (entry.isDirectory()) {
      await collect(root, file, displayPath, found);
      continue;
    }
    if (!entry.isFile()) {
      const kind = entry.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
      throw new RenderError(displayPath(shown), `${kind}; templates must be regular files inside the procedure`);
    }
    const { bytes, mode } = await readRegularFile(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ELOOP') throw error;
      throw new RenderError(displayPath(shown), 'a symbolic link; templates must be regular files inside the procedure');
    });
    const source = decodeUtf8(bytes);
    if (source === undefined) {
      throw new RenderError(displayPath(shown), 'not UTF-8 text; every file here is a Liquid template');
    }
    found.push({ path: relative.split(path.sep).join('/'), file: shown, source, executable: (mode & 0o111) !== 0 });
  }
}

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
