/**
 * Where a path named in procedure.yaml really leads. Checking the last component alone is not
 * enough: `vm.files: up/etc/ssh` with `up -> /` is a plain directory at the end of a symlinked
 * one, and would pull the machine's SSH host keys into every bundle.
 */
import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';

export type ContainedPath =
  | { status: 'inside'; real: string; kind: 'file' | 'directory' | 'other' }
  | { status: 'missing' }
  | { status: 'outside'; real: string };

/**
 * Resolves `relative` below `dir` through every symbolic link and says whether the result
 * stays inside the real path of `dir` (itself may be reached through a link: a symlinked
 * version folder is allowed, its contents must not leave it).
 */
export async function resolveContainedPath(dir: string, relative: string): Promise<ContainedPath> {
  const realDir = await realpath(dir).catch(() => undefined);
  if (realDir === undefined) return { status: 'missing' };
  const real = await realpath(path.resolve(dir, relative)).catch(() => undefined);
  if (real === undefined) return { status: 'missing' };
  if (!isInside(realDir, real)) return { status: 'outside', real };
  const info = await lstat(real);
  return { status: 'inside', real, kind: info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other' };
}

/** `child` is `parent` itself or below it; both absolute and already resolved. */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + path.sep) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * The first entry below `dir` that is neither a directory nor a regular file (a symbolic link,
 * a socket, …), relative to `dir`, or undefined. Such an entry is never followed: a link
 * inside the files directory could point anywhere on this machine.
 */
export async function findIrregularEntry(dir: string): Promise<string | undefined> {
  const pending = [''];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    const entries = await readdir(path.join(dir, relative), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const inner = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) pending.push(inner);
      else if (!entry.isFile()) return inner;
    }
  }
  return undefined;
}
