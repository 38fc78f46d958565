import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteCommandError, ToolMissingError } from '../../../src/errors.js';
import type { CommandResult, RunCommand } from '../../../src/run-command.js';
import { buildSeedIso } from '../../../src/cloud-init/write-seed.js';

let dir: string;
let seedDir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ozg-seed-iso-'));
  seedDir = join(dir, 'seed');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(seedDir, { mode: 0o700 });
  await writeFile(join(seedDir, 'user-data'), '#cloud-config\n', { mode: 0o600 });
  await writeFile(join(seedDir, 'meta-data'), 'instance-id: x\n', { mode: 0o600 });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const notFound: CommandResult = { exitCode: null, stdout: '', stderr: '', durationMs: 0, notFound: true };

describe('buildSeedIso', () => {
  it('names the packages to install when no ISO tool is there', async () => {
    const tried: string[] = [];
    const runCommand: RunCommand = async (file) => {
      tried.push(file);
      return notFound;
    };
    const error = await buildSeedIso(seedDir, join(dir, 'seed.iso'), runCommand).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolMissingError);
    expect((error as Error).message).toMatch(/cloud-localds, genisoimage or xorriso/);
    const hint = (error as ToolMissingError).hint!;
    expect(hint).toContain('apt-get install -y cloud-image-utils');
    expect(hint).toContain('genisoimage');
    expect(hint).toContain('xorriso');
    expect(tried).toEqual(['cloud-localds', 'genisoimage', 'xorriso']);
    expect(await readdir(dir)).toEqual(['seed']); // no temp dir or ISO left behind
  });

  it('falls back to the next tool, runs it in the seed dir, and leaves the ISO 0600', async () => {
    await writeFile(join(seedDir, 'network-config'), 'version: 2\n', { mode: 0o600 });
    const calls: Array<{ file: string; args: readonly string[]; cwd?: string }> = [];
    const runCommand: RunCommand = async (file, args, options) => {
      calls.push({ file, args, cwd: options?.cwd });
      if (file !== 'genisoimage') return notFound;
      // like the real tool: plain default mode, and the ISO lands where -output says
      await writeFile(args[args.indexOf('-output') + 1]!, 'ISO', { mode: 0o644 });
      return { exitCode: 0, stdout: '', stderr: '', durationMs: 5 };
    };
    const iso = join(dir, 'out', 'kiel-test.iso');
    expect(await buildSeedIso(seedDir, iso, runCommand)).toEqual({ path: iso, tool: 'genisoimage' });
    expect(calls.map((c) => c.file)).toEqual(['cloud-localds', 'genisoimage']);
    expect(calls[0]!.args).toEqual([`--network-config=${join(seedDir, 'network-config')}`, expect.any(String), join(seedDir, 'user-data'), join(seedDir, 'meta-data')]);
    expect(calls[1]!.args).toEqual(['-quiet', '-output', expect.any(String), '-volid', 'cidata', '-joliet', '-rock', 'user-data', 'meta-data', 'network-config']);
    expect(calls[1]!.cwd).toBe(seedDir);
    expect(await readFile(iso, 'utf8')).toBe('ISO');
    expect((await stat(iso)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'out'))).toEqual(['kiel-test.iso']);
  });

  it('reports a failing tool with its stderr instead of trying the next one', async () => {
    const runCommand: RunCommand = async (file) => (file === 'cloud-localds' ? { exitCode: 2, stdout: '', stderr: 'cannot write output', durationMs: 9 } : notFound);
    const error = await buildSeedIso(seedDir, join(dir, 'seed.iso'), runCommand).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteCommandError);
    expect((error as Error).message).toContain('cannot write output');
    expect((error as Error).message).toContain('build the seed ISO');
  });
});
