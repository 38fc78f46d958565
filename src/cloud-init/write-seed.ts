/**
 * Writing a seed to disk: the NoCloud files (0600, in a 0700 directory), optionally a
 * `cidata` ISO, and the host keys pinned in known_hosts. Every secret file is created with
 * its final mode and renamed into place, so no moment exists where it is readable by others.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { InternalError, RemoteCommandError, ToolMissingError, UsageError } from '../errors.js';
import { mergeKnownHosts, type KnownHostsStatus } from './known-hosts.js';
import { runCommandWithExeca, type RunCommand } from '../run-command.js';
import { summarizeSeed, type Seed, type SeedSummary } from './seed.js';

export const SEED_FILE_MODE = 0o600;
export const SEED_DIR_MODE = 0o700;

export interface WriteSeedOptions {
  /** absolute known_hosts file to pin the host keys in (created 0600) */
  knownHostsFile?: string;
  /** replace a different key already pinned for the host (the VM is being re-seeded) */
  replace?: boolean;
  /** absolute path of a seed ISO to build as well */
  isoPath?: string;
  /** runs the ISO tools (default: execa) */
  runCommand?: RunCommand;
}

export type SeedIsoTool = 'cloud-localds' | 'genisoimage' | 'xorriso';

/** Everything the command shows after writing a seed: paths and fingerprints, no key material. */
export interface WriteSeedResult extends SeedSummary {
  outDir: string;
  files: string[];
  iso?: { path: string; tool: SeedIsoTool };
  knownHosts?: { file: string; status: KnownHostsStatus };
}

/** Writes user-data, meta-data and network-config (if any) into `outDir`, then the ISO and known_hosts. */
export async function writeSeed(seed: Seed, outDir: string, options: WriteSeedOptions = {}): Promise<WriteSeedResult> {
  requireAbsolute(outDir, 'seed directory');
  if (options.isoPath !== undefined) requireAbsolute(options.isoPath, 'seed ISO path');
  if (options.knownHostsFile !== undefined) requireAbsolute(options.knownHostsFile, 'known_hosts file');
  const replace = options.replace ?? false;

  // Refuse a conflicting pin before writing anything, so a refused re-seed leaves no new seed behind.
  if (options.knownHostsFile !== undefined) {
    mergeKnownHosts(await readIfExists(options.knownHostsFile), seed.knownHostsLines, { replace, file: options.knownHostsFile });
  }

  await prepareSeedDirectory(outDir);
  const contents: Array<[string, string]> = [
    ['user-data', seed.userData],
    ['meta-data', seed.metaData],
  ];
  if (seed.networkConfig !== undefined) contents.push(['network-config', seed.networkConfig]);
  else await rm(join(outDir, 'network-config'), { force: true }); // a stale one would end up in the ISO
  for (const [name, text] of contents) await writeFilePrivately(join(outDir, name), text);

  const result: WriteSeedResult = { ...summarizeSeed(seed), outDir, files: contents.map(([name]) => join(outDir, name)) };
  if (options.isoPath !== undefined) {
    result.iso = await buildSeedIso(outDir, options.isoPath, options.runCommand ?? runCommandWithExeca);
  }
  if (options.knownHostsFile !== undefined) {
    result.knownHosts = { file: options.knownHostsFile, status: await pinHostKeys(options.knownHostsFile, seed.knownHostsLines, replace) };
  }
  return result;
}

/** Pins `lines` in `file` (created 0600, parent 0700); see mergeKnownHosts for conflicts. */
export async function pinHostKeys(file: string, lines: readonly string[], replace: boolean): Promise<KnownHostsStatus> {
  requireAbsolute(file, 'known_hosts file');
  const existing = await readIfExists(file);
  const merged = mergeKnownHosts(existing, lines, { replace, file });
  if (merged.status === 'unchanged' && existing !== '') return merged.status;
  await mkdir(dirname(file), { recursive: true, mode: SEED_DIR_MODE });
  await writeFilePrivately(file, merged.text);
  return merged.status;
}

interface IsoAttempt {
  tool: SeedIsoTool;
  args: (iso: string, files: string[], outDir: string) => string[];
}

const ISO_TOOLS: readonly IsoAttempt[] = [
  {
    tool: 'cloud-localds',
    args: (iso, files, outDir) => [
      ...(files.includes('network-config') ? [`--network-config=${join(outDir, 'network-config')}`] : []),
      iso,
      join(outDir, 'user-data'),
      join(outDir, 'meta-data'),
    ],
  },
  { tool: 'genisoimage', args: (iso, files) => ['-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', ...files] },
  { tool: 'xorriso', args: (iso, files) => ['-as', 'genisoimage', '-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', ...files] },
];

/**
 * Builds a NoCloud `cidata` ISO from the seed files in `outDir` with the first tool installed
 * (cloud-localds, genisoimage, xorriso). The tool writes inside a private directory next to
 * `isoPath`; the result is made 0600 there and renamed into place.
 */
export async function buildSeedIso(outDir: string, isoPath: string, runCommand: RunCommand = runCommandWithExeca): Promise<{ path: string; tool: SeedIsoTool }> {
  requireAbsolute(outDir, 'seed directory');
  requireAbsolute(isoPath, 'seed ISO path');
  const files = ['user-data', 'meta-data'];
  for (const name of files) {
    if (!(await exists(join(outDir, name)))) throw new UsageError(`${join(outDir, name)} is missing: write the seed before building its ISO`);
  }
  if (await exists(join(outDir, 'network-config'))) files.push('network-config');

  await mkdir(dirname(isoPath), { recursive: true });
  const workDir = await mkdtemp(join(dirname(isoPath), `.${basename(isoPath)}.ozg-`));
  try {
    const tempIso = join(workDir, 'seed.iso');
    for (const attempt of ISO_TOOLS) {
      const args = attempt.args(tempIso, files, outDir);
      const result = await runCommand(attempt.tool, args, { cwd: outDir, timeoutMs: 120_000 });
      if (result.notFound) continue;
      if (result.exitCode !== 0) {
        throw new RemoteCommandError({ where: 'this machine', step: 'build the seed ISO' }, `${attempt.tool} ${args.join(' ')}`, result);
      }
      await chmod(tempIso, SEED_FILE_MODE);
      await rename(tempIso, isoPath);
      return { path: isoPath, tool: attempt.tool };
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  throw new ToolMissingError('cannot build the seed ISO: none of cloud-localds, genisoimage or xorriso is installed', {
    hint: 'install one: `apt-get install -y cloud-image-utils` (cloud-localds), or `apt-get install -y genisoimage`, or `apt-get install -y xorriso`',
  });
}

/** Creates `dir` 0700, or accepts an existing directory only when no one else can read it. */
async function prepareSeedDirectory(dir: string): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  try {
    await mkdir(dir, { mode: SEED_DIR_MODE });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const info = await lstat(dir);
  if (!info.isDirectory()) throw new UsageError(`${dir} exists and is not a directory`, { hint: 'choose another output directory for the seed' });
  if ((info.mode & 0o077) !== 0) {
    throw new UsageError(`${dir} is accessible by other users (mode ${(info.mode & 0o777).toString(8)}); the seed holds private host keys`, {
      hint: `use a new directory (ozg creates it 0700) or run \`chmod 700 ${dir}\``,
    });
  }
}

/** Creates a temp file with `mode` from the start (O_EXCL), writes it, renames it over `path`. */
async function writeFilePrivately(path: string, text: string, mode = SEED_FILE_MODE): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

async function readIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function requireAbsolute(path: string, what: string): void {
  // The command resolves paths against its cwd; a relative one here is a caller bug.
  if (!isAbsolute(path)) throw new InternalError(`${what} must be an absolute path, got ${path}`);
}
