import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { removeTemp, repoRoot } from '../helpers/run-ozg.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string): Promise<Run> {
  const env: Record<string, string | undefined> = { ...process.env, CI: 'true', NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };
  delete env.OZG_INVENTORY;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * ozg as a user gets it: the packed tarball installed into a prefix of its own, run from there,
 * with no repository around it. Dependencies come from npm's cache (filled by `npm ci`);
 * when the cache lacks an entry --offline needs, --prefer-offline asks the npm registry only.
 */
describe('the npm package', () => {
  let work: string;
  let ozg: string;
  let packageDir: string;
  let files: string[];
  beforeAll(async () => {
    if (!existsSync(path.join(repoRoot, 'dist/cli.js'))) throw new Error('dist/ is missing: run `npm run build` first (the package carries the build)');
    work = await mkdtemp(path.join(os.tmpdir(), 'ozg-pack-'));
    // the build is already there: pack without running `prepare` again
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], repoRoot);
    expect({ code: pack.code, stderr: pack.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const [packed] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    files = packed!.files.map((f) => f.path);
    const prefix = path.join(work, 'prefix');
    const tarball = path.join(work, packed!.filename);
    // --ignore-scripts: ozg has no install script (prepare runs only for a git dependency); the
    // dependencies' ones (ssh2's optional native crypto build) would compile and download headers
    const install = async (mode: string) => run('npm', ['install', '--global', '--prefix', prefix, tarball, mode, '--ignore-scripts'], work);
    let installed = await install('--offline');
    if (installed.code !== 0 && /ENOTCACHED/.test(installed.stdout + installed.stderr)) installed = await install('--prefer-offline');
    expect({ code: installed.code, stderr: installed.code === 0 ? '' : installed.stderr }).toEqual({ code: 0, stderr: '' });
    ozg = path.join(prefix, 'bin/ozg');
    packageDir = path.join(prefix, 'lib/node_modules/ozg');
  }, 300_000);
  afterAll(async () => {
    if (work) await removeTemp(work);
  });

  it('carries the build, the generated validators, the scaffold and what its example names', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/ozg.js',
        'dist/cli.js',
        'dist/commands/init.js',
        'dist/input/generated/inventory-validator.js',
        'dist/input/generated/procedure-validator.js',
        'scaffold/sites.yaml',
        'scaffold/gitignore',
        'scaffold/gitlab-ci.yml',
        'sites.example.yaml',
        'examples/secrets/kiel-smtp.txt',
        'templates/antrag-formular/1.1.0/procedure.yaml',
        'scripts/install-helm.sh',
        'docs/procedure-format.md',
      ]),
    );
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('node_modules/'))).toEqual([]);
  });

  it("validates its own example where it is installed", async () => {
    const validate = await run(ozg, ['validate', '-i', path.join(packageDir, 'sites.example.yaml')], work);
    expect({ code: validate.code, stderr: validate.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('runs installed: --version, init, validate, deploy, and a second deploy changes nothing', async () => {
    const { version } = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'));
    expect((await run(ozg, ['--version'], work)).stdout.trim()).toBe(version);
    const project = path.join(work, 'project');
    await mkdir(project);
    const init = await run(ozg, ['init'], project);
    expect({ code: init.code, stderr: init.stderr }).toEqual({ code: 0, stderr: '' });
    const validate = await run(ozg, ['validate'], project);
    expect({ code: validate.code, stderr: validate.stderr }).toEqual({ code: 0, stderr: '' });
    const deploy = await run(ozg, ['deploy'], project);
    expect({ code: deploy.code, stderr: deploy.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(deploy.stdout).toMatch(/musterstadt\s+antrag-formular 1\.1\.0\s+test: applied\s+prod: applied/);
    const again = await run(ozg, ['deploy', '--json'], project);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout.trim().split('\n').at(-1)!);
    expect(result.result.sites.map((s: { result: string }) => s.result)).toEqual(['unchanged']);
  });
});
