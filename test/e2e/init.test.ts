import { execFileSync } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';

/** Every file under dir, relative, with its bytes: what "nothing written" is checked against. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[path.relative(dir, path.join(entry.parentPath, entry.name))] = await readFile(path.join(entry.parentPath, entry.name), 'utf8');
  }
  return out;
}

function gitMustExist(): void {
  try {
    execFileSync('git', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('git is needed for this test: apt-get install -y git');
  }
}

describe('ozg init', () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-init-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    for (const dir of dirs) await removeTemp(dir);
  });

  it('makes an empty folder deployable with no further step; a second deploy changes nothing', async () => {
    const dir = await tempDir();
    const init = await runOzg(['init'], { cwd: dir });
    expect({ code: init.code, stderr: init.stderr }).toEqual({ code: 0, stderr: '' });
    expect(init.stdout).toContain('next: ozg deploy');

    const first = await runOzg(['deploy'], { cwd: dir });
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(first.stdout).toMatch(/musterstadt\s+antrag-formular 1\.1\.0\s+test: applied\s+prod: applied/);
    const second = await runOzg(['deploy', '--json'], { cwd: dir });
    expect(second.code).toBe(0);
    expect(resultOf(second).sites.map((s: any) => s.result)).toEqual(['unchanged']);
  });

  it('writes into a named folder, creating it, and the generated secret files are 0600, random and long enough', async () => {
    const parent = await tempDir();
    const a = await runOzg(['init', 'land-sh'], { cwd: parent });
    const b = await runOzg(['init', 'land-hh', '--json'], { cwd: parent });
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(resultOf(b).written).toEqual(expect.arrayContaining(['sites.yaml', '.gitignore', '.gitlab-ci.yml', 'secrets/musterstadt-smtp.txt']));
    const secretA = path.join(parent, 'land-sh/secrets/musterstadt-smtp.txt');
    expect((await stat(secretA)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(secretA))).mode & 0o777).toBe(0o700);
    const valueA = (await readFile(secretA, 'utf8')).trim();
    const valueB = (await readFile(path.join(parent, 'land-hh/secrets/musterstadt-smtp.txt'), 'utf8')).trim();
    expect(valueA.length).toBeGreaterThanOrEqual(8);
    expect(valueA).not.toBe(valueB);
    // the inventory references the file, never the value
    expect(await readFile(path.join(parent, 'land-sh/sites.yaml'), 'utf8')).toContain('smtpPassword: { file: ./secrets/musterstadt-smtp.txt }');
    // and validate accepts the project as written
    expect((await runOzg(['validate'], { cwd: path.join(parent, 'land-sh') })).code).toBe(0);
  });

  it('refuses a folder that already has its files (exit 2) and writes nothing; --force overwrites but keeps secrets', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'sites.yaml'), 'sites: {}  # my own\n');
    await writeFile(path.join(dir, 'notes.txt'), 'mine\n');
    const before = await contents(dir);
    const refused = await runOzg(['init'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('already has sites.yaml');
    expect(refused.stderr).toContain('nothing written');
    expect(await contents(dir)).toEqual(before);

    const first = await runOzg(['init', '--force'], { cwd: dir });
    expect(first.code).toBe(0);
    const secret = await readFile(path.join(dir, 'secrets/musterstadt-smtp.txt'), 'utf8');
    expect(await readFile(path.join(dir, 'sites.yaml'), 'utf8')).toContain('local-dc');
    const again = await runOzg(['init', '--force', '--json'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(resultOf(again).kept).toEqual(['secrets/musterstadt-smtp.txt']);
    expect(await readFile(path.join(dir, 'secrets/musterstadt-smtp.txt'), 'utf8')).toBe(secret);
  });

  it('--force replaces a symbolic link in its way, never writing through it', async () => {
    const dir = await tempDir();
    const outside = path.join(await tempDir(), 'precious.yaml');
    await writeFile(outside, 'keep me\n');
    await symlink(outside, path.join(dir, 'sites.yaml'));
    expect((await runOzg(['init'], { cwd: dir })).code).toBe(2);
    expect((await runOzg(['init', '--force'], { cwd: dir })).code).toBe(0);
    expect(await readFile(outside, 'utf8')).toBe('keep me\n');
    expect((await lstat(path.join(dir, 'sites.yaml'))).isFile()).toBe(true);
  });

  it('its .gitignore keeps secrets and the local targets out of git, and the ledger in', async () => {
    gitMustExist();
    const dir = await tempDir();
    expect((await runOzg(['init'], { cwd: dir })).code).toBe(0);
    expect((await runOzg(['deploy'], { cwd: dir })).code).toBe(0);
    execFileSync('git', ['init', '-q'], { cwd: dir });
    const ignored = (paths: string[]) => {
      try {
        return execFileSync('git', ['check-ignore', ...paths], { cwd: dir, encoding: 'utf8' }).split('\n').filter(Boolean);
      } catch (error) {
        if ((error as { status?: number }).status === 1) return []; // none ignored
        throw error;
      }
    };
    expect(ignored(['secrets/musterstadt-smtp.txt', '.ozg/targets/test', '.ozg/ledger.jsonl', 'sites.yaml', '.gitlab-ci.yml'])).toEqual([
      'secrets/musterstadt-smtp.txt',
      '.ozg/targets/test',
    ]);
    // what `git add -A` would commit: the ledger, never a secret or a target
    execFileSync('git', ['add', '-A'], { cwd: dir });
    const staged = execFileSync('git', ['diff', '--cached', '--name-only'], { cwd: dir, encoding: 'utf8' }).split('\n');
    expect(staged).toContain('.ozg/ledger.jsonl');
    expect(staged.filter((f) => f.startsWith('secrets/') || f.startsWith('.ozg/targets/'))).toEqual([]);
  });

  it("its .gitlab-ci.yml is the README's pipeline, run with the installed ozg", async () => {
    const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
    const block = /```yaml\n(# \.gitlab-ci\.yml\n[\s\S]*?)```/.exec(readme)![1]!;
    const fromReadme = JSON.parse(JSON.stringify(parse(block)).replaceAll('npx ozg', 'ozg'));
    const dir = await tempDir();
    expect((await runOzg(['init'], { cwd: dir })).code).toBe(0);
    const scaffold = parse(await readFile(path.join(dir, '.gitlab-ci.yml'), 'utf8'));
    const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'));
    expect(scaffold.default).toEqual({ image: 'node:20', before_script: ['npm install --global $OZG_PACKAGE'] });
    expect(scaffold.variables.OZG_PACKAGE).toBe(`ozg@${version}`);
    delete scaffold.default;
    delete fromReadme.default;
    delete scaffold.variables.OZG_PACKAGE;
    expect(scaffold).toEqual(fromReadme);
  });
});
