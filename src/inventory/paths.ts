import path from 'node:path';

/** A path from sites.yaml made absolute: relative to the file's directory, `~/` to the home directory. */
export function resolveUserPath(baseDir: string, given: string, homeDir: string): string {
  if (given === '~') return homeDir;
  if (given.startsWith('~/')) return path.join(homeDir, given.slice(2));
  return path.resolve(baseDir, given);
}
