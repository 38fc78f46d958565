import path from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Bundle } from './types.js';

export interface WrittenBundles {
  dir: string;
  bundles: { dir: string; files: number; hash: string }[];
}

/** Writes bundles to `<out>/<site>/<environment>/<procedure>/`, plus a manifest per bundle. */
export async function writeBundles(bundles: Bundle[], cwd: string, out: string): Promise<WrittenBundles> {
  const root = path.resolve(cwd, out);
  const written: WrittenBundles = { dir: root, bundles: [] };
  for (const bundle of bundles) {
    const dir = path.join(root, bundle.site, bundle.environment, bundle.procedure);
    for (const file of bundle.files) {
      const target = path.resolve(dir, file.path);
      if (!target.startsWith(dir + path.sep)) throw new Error(`bundle path escapes its folder: ${file.path}`);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, file.content, { mode: file.mode });
    }
    const manifest = { site: bundle.site, environment: bundle.environment, procedure: bundle.procedure, version: bundle.version, hash: bundle.hash, hooks: bundle.hooks, smoke: bundle.smoke };
    await writeFile(path.join(dir, '.ozg-bundle.json'), JSON.stringify(manifest, null, 2) + '\n');
    written.bundles.push({ dir: path.relative(cwd, dir) || '.', files: bundle.files.length, hash: bundle.hash });
  }
  return written;
}
