import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandContext, CommandResult } from './context.js';
import { ExitCode, RecordWriteError, UsageError } from '../errors.js';
import { formatInitResult, type InitResult } from '../output/format-init.js';

interface InitFlags {
  force?: boolean;
}

/** One file `ozg init` writes, relative to the new project folder. */
interface ScaffoldFile {
  path: string;
  content: string | Buffer;
  mode: number;
  /** a generated secret: `--force` keeps one that exists, so a live password is never replaced behind a deploy's back */
  secret?: boolean;
}


const packageRoot = fileURLToPath(new URL('../../', import.meta.url));
/** The example procedure copied into the new catalogue: its smoke checks run on any machine. */
const EXAMPLE_PROCEDURE = { name: 'antrag-formular', version: '1.1.0' };
/** npm leaves dot files like .gitignore out of a package, so the scaffold stores them without the dot. */
const SCAFFOLD_NAMES: Record<string, string> = { 'sites.yaml': 'sites.yaml', gitignore: '.gitignore', 'gitlab-ci.yml': '.gitlab-ci.yml' };
const SECRET_FILES = ['secrets/musterstadt-smtp.txt'];

/** A project folder a state IT team starts from (as `helm create`): inventory, catalogue, .gitignore, CI, secrets. */
export async function run(context: CommandContext, dir: string | undefined, flags: InitFlags): Promise<CommandResult> {
  const target = path.resolve(context.cwd, dir ?? '.');
  const files = await scaffoldFiles();
  const existing = await existingFiles(target, files);
  if (existing.length > 0 && !flags.force) {
    const named = existing.length > 4 ? [...existing.slice(0, 4), `${existing.length - 4} more`] : existing;
    throw new UsageError(`${path.relative(context.cwd, target) || '.'} already has ${named.join(', ')}: nothing written`, {
      hint: 'run `ozg init` in an empty folder (or name a new one: `ozg init <dir>`), or add --force to overwrite these files (existing secret files are kept)',
    });
  }
  const result: InitResult = { directory: target, written: [], kept: [] };
  for (const file of files) {
    if (file.secret && existing.includes(file.path)) {
      result.kept.push(file.path);
      continue;
    }
    await writeScaffoldFile(target, file);
    result.written.push(file.path);
  }
  context.reporter.result(result, () => formatInitResult(result, context.cwd));
  return { exitCode: ExitCode.ok };
}

async function scaffoldFiles(): Promise<ScaffoldFile[]> {
  const version = (JSON.parse(await readFile(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const files: ScaffoldFile[] = [];
  for (const [source, name] of Object.entries(SCAFFOLD_NAMES)) {
    const content = (await readFile(path.join(packageRoot, 'scaffold', source), 'utf8')).replaceAll('{{version}}', version);
    files.push({ path: name, content, mode: 0o644 });
  }
  const procedureDir = path.join(packageRoot, 'templates', EXAMPLE_PROCEDURE.name, EXAMPLE_PROCEDURE.version);
  for (const relative of await listFiles(procedureDir)) {
    const source = path.join(procedureDir, relative);
    const mode = (await stat(source)).mode & 0o755;
    files.push({ path: path.posix.join('procedures', EXAMPLE_PROCEDURE.name, EXAMPLE_PROCEDURE.version, relative), content: await readFile(source), mode });
  }
  for (const secret of SECRET_FILES) {
    // 24 random bytes: 32 characters, far above the 8 a secret needs to be redacted from output
    files.push({ path: secret, content: randomBytes(24).toString('base64url') + '\n', mode: 0o600, secret: true });
  }
  return files;
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), relative)));
    else if (entry.isFile()) out.push(relative);
  }
  return out;
}

/** The scaffold's files already in the folder (anything there, a link or a directory too). */
async function existingFiles(target: string, files: ScaffoldFile[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of files) {
    try {
      await lstat(path.join(target, file.path));
      found.push(file.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
    }
  }
  return found;
}

async function writeScaffoldFile(target: string, file: ScaffoldFile): Promise<void> {
  const destination = path.join(target, file.path);
  try {
    // secrets/ itself is private too: the names of the secret files say which systems there are
    await mkdir(path.dirname(destination), { recursive: true, mode: file.secret ? 0o700 : 0o755 });
    // --force replaces what is there, never writes through it (a link to a file elsewhere)
    await rm(destination, { force: true });
    await writeFile(destination, file.content, { mode: file.mode, flag: 'wx' });
  } catch (error) {
    throw new RecordWriteError(destination, (error as Error).message, {
      cause: error,
      what: destination,
      hint: `free space on (or fix the permissions of) ${target}, then run \`ozg init --force\` (it keeps the secret files already written)`,
    });
  }
}
