/** Reading a procedure's template directory: every regular file below it is a template. */
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { RenderError } from '../errors.js';
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
 * Every regular file under `root`, sorted by path. Symlinks are refused (they could pull in
 * files from outside the procedure), and so is anything that is not UTF-8 text, because a
 * binary file cannot go through Liquid unharmed. `displayPath` names files in errors.
 */
export async function readTemplateFiles(root: string, displayPath: (file: string) => string): Promise<TemplateFile[]> {
  const rootStat = await lstat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) {
    throw new RenderError(displayPath(root), 'template directory is missing (or is not a directory)');
  }
  const found: TemplateFile[] = [];
  await collect(root, root, displayPath, found);
  return found.sort((a, b) => compareStrings(a.path, b.path));
}

async function collect(root: string, dir: string, displayPath: (file: string) => string, found: TemplateFile[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await collect(root, file, displayPath, found);
      continue;
    }
    if (!entry.isFile()) {
      const kind = entry.isSymbolicLink() ? 'a symbolic link' : 'not a regular file';
      throw new RenderError(displayPath(file), `${kind}; templates must be regular files inside the procedure`);
    }
    const [bytes, stat] = await Promise.all([readFile(file), lstat(file)]);
    const source = decodeUtf8(bytes);
    if (source === undefined) {
      throw new RenderError(displayPath(file), 'not UTF-8 text; every file here is a Liquid template');
    }
    found.push({
      path: path.relative(root, file).split(path.sep).join('/'),
      file,
      source,
      executable: (stat.mode & 0o111) !== 0,
    });
  }
}

function decodeUtf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
