import path from 'node:path';
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { InternalError, UsageError } from '../errors.js';
import type { Bundle } from './types.js';

export interface WrittenBundles {
  dir: string;
  bundles: WrittenBundle[];
}

/** One bundle folder written: its path (relative to the working directory), its file count and bundle hash. */
export interface WrittenBundle {
  dir: string;
  files: number;
  hash: string;
}

/** Where bundles are written while they are being written: a fresh folder inside the output folder. */
const STAGE_PREFIX = '.ozg-render-';

/**
 * Writes bundles to `<out>/<site>/<environment>/<procedure>/`, plus a manifest per bundle.
 *
 * The output folder may hold anything from earlier runs, including symbolic links someone
 * planted there (`config.json -> ~/.ssh/authorized_keys`). Nothing here is written through
 * one: each bundle is written, with exclusive creates, into a fresh folder made by mkdtemp,
 * then renamed over the bundle folder, whose old contents are removed without being followed.
 * A symbolic link in place of `<site>` or `<environment>` is refused.
 */
export async function writeBundles(bundles: Bundle[], cwd: string, out: string): Promise<WrittenBundles> {
  const root = path.resolve(cwd, out);
  const written: WrittenBundles = { dir: root, bundles: [] };
  await mkdir(root, { recursive: true });
  const stage = await mkdtemp(path.join(root, STAGE_PREFIX));
  try {
    for (const [index, bundle] of bundles.entries()) {
      const staged = path.join(stage, String(index));
      await writeBundle(bundle, staged);
      const dir = path.join(root, bundle.site, bundle.environment, bundle.procedure);
      await ensureRealDirectory(root, path.dirname(dir));
      // rename does not follow a link at `dir` itself: it moves the link, which goes with the stage
      await rename(dir, path.join(stage, `${index}.old`)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
      await rename(staged, dir);
      written.bundles.push({ dir: path.relative(cwd, dir) || '.', files: bundle.files.length, hash: bundle.hash });
    }
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
  return written;
}

async function writeBundle(bundle: Bundle, dir: string): Promise<void> {
  await mkdir(dir);
  for (const file of bundle.files) {
    const target = path.resolve(dir, file.path);
    if (!target.startsWith(dir + path.sep)) throw new InternalError(`bundle path escapes its folder: ${file.path}`);
    await mkdir(path.dirname(target), { recursive: true });
    if (file.blob) {
      // streamed by the kernel from the cache or the catalogue, never read into memory
      await copyFile(file.blob.path, target, constants.COPYFILE_EXCL);
      await chmod(target, file.mode);
    } else {
      await writeFile(target, file.content, { mode: file.mode, flag: 'wx' });
    }
  }
  const manifest = { site: bundle.site, environment: bundle.environment, procedure: bundle.procedure, version: bundle.version, hash: bundle.hash, hooks: bundle.hooks, smoke: bundle.smoke };
  await writeFile(path.join(dir, '.ozg-bundle.json'), JSON.stringify(manifest, null, 2) + '\n', { flag: 'wx' });
}

/** Creates `dir` and its parents up to `root`, refusing any that exists as something other than a real directory. */
async function ensureRealDirectory(root: string, dir: string): Promise<void> {
  const parts = path.relative(root, dir).split(path.sep);
  let current = root;
  for (const part of parts) {
    current = path.join(current, part);
    try {
      await mkdir(current);
      continue;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const info = await lstat(current);
    if (!info.isDirectory()) {
      throw new UsageError(`${current} in the output folder is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; ozg does not write through it`, {
        hint: 'remove it, or render into a fresh folder with -o',
      });
    }
  }
}
