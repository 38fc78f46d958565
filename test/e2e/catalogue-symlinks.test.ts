import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createMiniProject, localInventoryYaml } from '../helpers/mini-project.js';
import { removeTemp, runOzg } from '../helpers/run-ozg.js';

/**
 * Issue 9, item 2: a path in procedure.yaml must really lead inside its version folder. A
 * symlinked directory component (`up -> /` with `vm.files: up/etc/ssh`) once carried the
 * machine's SSH host private keys into bundles as 0644 files. Here `up` leads to a folder
 * outside the catalogue holding a stand-in private key.
 */
const KEY = 'STAND-IN-HOST-PRIVATE-KEY-7f3a';

/** Every file's text below `dir`, following nothing. */
async function readTree(dir: string): Promise<string> {
  if (!existsSync(dir)) return '';
  let text = '';
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += await readFile(path.join(entry.parentPath, entry.name), 'utf8');
  }
  return text;
}

describe('catalogue paths that leave the procedure folder through a symbolic link', () => {
  let dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.map((d) => removeTemp(d)));
    dirs = [];
  });

  /** A project whose version folder has `up` → a folder outside holding `secret/ssh_host_key`. */
  async function createEscapingProject(procedureYaml: string, extra: Record<string, string> = {}): Promise<{ dir: string; version: string; outside: string }> {
    const project = await createMiniProject({ 'procedure.yaml': procedureYaml, 'files/config.txt': 'site {{ site.name }}\n', ...extra });
    const outside = await mkdtemp(path.join(os.tmpdir(), 'ozg-outside-'));
    dirs.push(project.dir, outside);
    await mkdir(path.join(outside, 'secret'));
    await writeFile(path.join(outside, 'secret/ssh_host_key'), KEY + '\n', { mode: 0o600 });
    await writeFile(path.join(outside, 'secret/user-data.yaml'), `#cloud-config\n# ${KEY}\n`);
    await symlink(outside, path.join(project.version, 'up'));
    return { ...project, outside };
  }

  const position = (line: number, col: number) => `catalogue/demo/1.0.0/procedure.yaml:${line}:${col}`;

  it('validate, render and deploy refuse vm.files through a symlinked component, with file:line, and nothing leaks', async () => {
    const { dir } = await createEscapingProject('name: demo\nversion: 1.0.0\nvm:\n  files: up/secret\n');

    const validate = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: validate.code, stderr: validate.stderr }).toEqual({ code: 3, stderr: expect.stringContaining(`${position(4, 10)}  vm.files  up/secret leads outside the procedure version folder`) });

    const render = await runOzg(['render', '-i', 'sites.yaml', '-o', 'out'], { cwd: dir });
    expect(render.code).toBe(3);
    expect(render.stderr).toContain(position(4, 10));
    expect(await readTree(path.join(dir, 'out'))).not.toContain(KEY);

    const deploy = await runOzg(['deploy', '-i', 'sites.yaml'], { cwd: dir });
    expect(deploy.code).toBe(3);
    expect(deploy.stderr).toContain(position(4, 10));
    expect(await readTree(path.join(dir, 'targets'))).not.toContain(KEY);
    expect(existsSync(path.join(dir, '.ozg/ledger.jsonl'))).toBe(false);
    expect(existsSync(path.join(dir, '.ozg/lock'))).toBe(false);
  });

  it('refuses vm.cloudInit and kubernetes.manifests through a symlinked component, naming each field', async () => {
    const { dir } = await createEscapingProject(
      'name: demo\nversion: 1.0.0\nvm:\n  files: files\n  cloudInit: up/secret/user-data.yaml\nkubernetes:\n  manifests: up/secret\n',
    );
    const run = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`${position(5, 14)}  vm.cloudInit  up/secret/user-data.yaml leads outside`);
    expect(run.stderr).toContain(`${position(7, 14)}  kubernetes.manifests  up/secret leads outside`);
  });

  it('refuses a symbolic link inside the files directory at vm.files, even when no site renders the procedure', async () => {
    const { dir, version, outside } = await createEscapingProject('name: demo\nversion: 1.0.0\nvm:\n  files: files\n');
    await symlink(path.join(outside, 'secret/ssh_host_key'), path.join(version, 'files/host_key'));
    // no site uses the procedure: the catalogue check alone must refuse it
    await writeFile(path.join(dir, 'sites.yaml'), localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', sites: [{ name: 'kiel', procedures: {} }] }));

    const run = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 3, stderr: expect.stringContaining(`${position(4, 10)}  vm.files  files/host_key is a symbolic link`) });
  });

  it('refuses a procedure.yaml that is a link to a file outside the folder', async () => {
    const { dir, version, outside } = await createEscapingProject('name: demo\nversion: 1.0.0\nvm:\n  files: files\n');
    await writeFile(path.join(outside, 'procedure.yaml'), 'name: demo\nversion: 1.0.0\nvm:\n  files: files\n');
    await rm(path.join(version, 'procedure.yaml'));
    await symlink(path.join(outside, 'procedure.yaml'), path.join(version, 'procedure.yaml'));
    const run = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 3, stderr: expect.stringContaining(`${position(1, 1)}  (document)  a symbolic link leading outside its version folder`) });
  });

  it('still accepts a symlinked version folder whose files stay inside it', async () => {
    const { dir, version } = await createEscapingProject('name: demo\nversion: 1.0.0\nvm:\n  files: files-link\n');
    // the whole version folder reached through a link, and a link inside it pointing within it
    await symlink('files', path.join(version, 'files-link'));
    await mkdir(path.join(dir, 'store'));
    await rename(version, path.join(dir, 'store/demo-1.0.0'));
    await symlink('../../store/demo-1.0.0', version);
    const run = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
  });
});

describe('render -o and symbolic links already in the output folder', () => {
  let dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.map((d) => removeTemp(d)));
    dirs = [];
  });

  async function createProject(): Promise<{ dir: string; victim: string }> {
    const { dir } = await createMiniProject({ 'procedure.yaml': 'name: demo\nversion: 1.0.0\nvm:\n  files: files\n', 'files/config.txt': 'site {{ site.name }}\n' });
    const victim = await mkdtemp(path.join(os.tmpdir(), 'ozg-victim-'));
    dirs.push(dir, victim);
    await writeFile(path.join(victim, 'authorized_keys'), 'ssh-ed25519 AAAA original\n');
    return { dir, victim };
  }

  it('replaces a planted file link instead of writing through it: the file it points to is unchanged', async () => {
    const { dir, victim } = await createProject();
    const bundleDir = path.join(dir, 'out/kiel/test/demo');
    await mkdir(bundleDir, { recursive: true });
    await symlink(path.join(victim, 'authorized_keys'), path.join(bundleDir, 'config.txt'));
    await symlink(path.join(victim, 'authorized_keys'), path.join(bundleDir, '.ozg-bundle.json'));

    const run = await runOzg(['render', '-i', 'sites.yaml', '-o', 'out'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await readFile(path.join(victim, 'authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAA original\n');
    expect((await lstat(path.join(bundleDir, 'config.txt'))).isFile()).toBe(true);
    expect(await readFile(path.join(bundleDir, 'config.txt'), 'utf8')).toBe('site kiel\n');
    expect((await readdir(path.join(dir, 'out'))).sort()).toEqual(['kiel']); // no stage folder left behind
  });

  it('refuses a planted directory link in place of a site or environment folder (exit 2), writing nothing through it', async () => {
    const { dir, victim } = await createProject();
    await mkdir(path.join(dir, 'out'));
    await symlink(victim, path.join(dir, 'out/kiel'));

    const run = await runOzg(['render', '-i', 'sites.yaml', '-o', 'out'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${path.join(dir, 'out/kiel')} in the output folder is a symbolic link`);
    expect((await readdir(victim)).sort()).toEqual(['authorized_keys']);
    expect(await readFile(path.join(victim, 'authorized_keys'), 'utf8')).toBe('ssh-ed25519 AAAA original\n');
  });
});
