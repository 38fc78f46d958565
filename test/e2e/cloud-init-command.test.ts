import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { snapshotDirs, type DirSnapshot } from '../helpers/dir-snapshot.js';
import { copyToTemp, removeTemp, repoRoot, resultOf, runOzg, type OzgRun } from '../helpers/run-ozg.js';

/** The real validator from Debian's cloud-init package; a missing one fails with the install step. */
function cloudInitSchema(file: string): number {
  const binary = '/usr/bin/cloud-init';
  if (!existsSync(binary)) throw new Error('cloud-init is not installed: apt-get install -y cloud-init');
  // cloud-init's own python (its shebang), not a pyenv python that cannot import cloudinit
  const python = readFileSync(binary, 'utf8').split('\n')[0]!.replace(/^#!\s*/, '').split(' ')[0]!;
  try {
    execFileSync(python, [binary, 'schema', '--config-file', file], { stdio: 'pipe' });
    return 0;
  } catch (error) {
    return (error as { status: number }).status;
  }
}

/** A project with one VM site (its deployRoot a folder of the project) and an operator key; no seed yet. */
async function setUpProject(): Promise<string> {
  const dir = await copyToTemp([
    { from: path.join(repoRoot, 'templates'), to: 'templates' },
    { from: path.join(repoRoot, 'examples'), to: 'examples' },
  ]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator@test', '-f', path.join(dir, 'operator')]);
  await writeFile(
    path.join(dir, 'sites.yaml'),
    [
      'dataCenters:',
      '  dataport:',
      '    kind: vm',
      '    environments:',
      `      test: { deployRoot: ${JSON.stringify(path.join(dir, 'vm-root'))}, ssh: { user: ozg, identityFile: ./operator, knownHosts: ./known_hosts, sudo: true } }`,
      'sites:',
      '  kiel:',
      '    dataCenter: dataport',
      '    hosts:',
      '      test:',
      '        host: 127.0.0.1',
      '        port: 2222',
      '        network: { version: 2, ethernets: { eth0: { dhcp4: true } } }',
      '    procedures:',
      '      antrag-formular:',
      '        version: "^1.0.0"',
      '        values: { title: "Kiel", municipalityKey: "01002000", domain: antraege.kiel.de, contactEmail: a@kiel.de }',
      '        secrets: { smtpPassword: { file: ./examples/secrets/kiel-smtp.txt } }',
    ].join('\n') + '\n',
  );
  return dir;
}

describe('ozg cloud-init', () => {
  let dir: string;
  /** the seed for kiel/test written once (host keys pinned in known_hosts, the procedures in user-data, an ISO) */
  let seeding: OzgRun;
  /** the project right after it: put back before each test, whatever the one before did */
  let seeded: DirSnapshot;
  beforeAll(async () => {
    dir = await setUpProject();
    seeding = await runOzg(['cloud-init', 'kiel', '--env', 'test', '--iso', '--with-procedures', '--include-secrets', '--json'], { cwd: dir });
    seeded = await snapshotDirs([dir]);
  });
  beforeEach(() => seeded.restore());
  afterAll(async () => {
    await seeded?.discard();
    await removeTemp(dir);
  });

  it('writes a valid seed with pinned host keys, owner-only, and never prints key material or secrets', async () => {
    const run = seeding;
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const result = resultOf(run);
    expect(result.hostKeys).toEqual([{ type: 'ed25519', fingerprint: expect.stringMatching(/^SHA256:/) }]);
    expect(result.procedures).toEqual(['antrag-formular@1.1.0']);
    expect(run.stdout).not.toMatch(/PRIVATE KEY|demo-smtp-password/);

    const seedDir = path.join(dir, 'seeds/kiel-test');
    for (const name of ['user-data', 'meta-data', 'network-config']) expect(statSync(path.join(seedDir, name)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'seeds/kiel-test.iso')).mode & 0o777).toBe(0o600);
    expect(cloudInitSchema(path.join(seedDir, 'user-data'))).toBe(0);

    const knownHosts = await readFile(path.join(dir, 'known_hosts'), 'utf8');
    const userData = parse(await readFile(path.join(seedDir, 'user-data'), 'utf8'));
    expect(knownHosts.trim()).toBe(`[127.0.0.1]:2222 ${userData.ssh_keys.ed25519_public.split(' ').slice(0, 2).join(' ')}`);
    expect(userData.users[0]).toMatchObject({ name: 'ozg', ssh_authorized_keys: [readFileSync(path.join(dir, 'operator.pub'), 'utf8').trim()] });
  });

  it('refuses release files holding secrets without --include-secrets: exit 2 naming them, nothing written', async () => {
    const knownHosts = await readFile(path.join(dir, 'known_hosts'), 'utf8');
    const run = await runOzg(['cloud-init', 'kiel', '--env', 'test', '--iso', '--with-procedures', '--replace', '--out', 'seeds/again'], { cwd: dir });
    expect(run.code).toBe(2);
    const secretFiles: string[] = resultOf(seeding).secretFiles;
    expect(secretFiles.length).toBeGreaterThan(0);
    for (const file of secretFiles) expect(run.stderr).toContain(file);
    expect(run.stderr).toContain('secret values in clear text');
    expect(run.stderr).toContain('--include-secrets');
    expect(run.stdout + run.stderr).not.toContain('demo-smtp-password');
    expect(existsSync(path.join(dir, 'seeds/again'))).toBe(false);
    expect(existsSync(path.join(dir, 'seeds/again.iso'))).toBe(false);
    expect(await readFile(path.join(dir, 'known_hosts'), 'utf8')).toBe(knownHosts);
  });

  it('with --include-secrets says plainly that the seed holds secrets in clear text, and writes it 0600', async () => {
    const result = resultOf(seeding);
    expect(result.secretFiles).toEqual([expect.stringMatching(/^antrag-formular\//)]);
    const warnings = seeding.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'warning');
    expect(warnings).toEqual([{ type: 'warning', message: expect.stringContaining('secret values in clear text') }]);
    expect(warnings[0].message).toContain(result.secretFiles[0]);
    expect(warnings[0].message).toMatch(/user-data, the ISO or the VM's metadata/);
    // the secret really is in user-data (inside the release archive), which is why the files are owner-only
    const seedDir = path.join(dir, 'seeds/kiel-test');
    for (const name of ['user-data', 'meta-data', 'network-config']) expect(statSync(path.join(seedDir, name)).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'seeds/kiel-test.iso')).mode & 0o777).toBe(0o600);

    // for people: the same warning on the terminal, and the summary lists the files
    const plain = await runOzg(['cloud-init', 'kiel', '--env', 'test', '--with-procedures', '--include-secrets', '--replace', '--out', 'seeds/plain'], { cwd: dir });
    expect(plain.code).toBe(0);
    expect(plain.stdout + plain.stderr).toContain('the seed holds secret values in clear text (--include-secrets)');
    expect(plain.stdout).toContain(`user-data holds secret values in clear text: ${result.secretFiles[0]}`);
    expect(plain.stdout + plain.stderr).not.toContain('demo-smtp-password');
  });

  it("merges each procedure's cloud-init fragment into user-data, and the result passes `cloud-init schema`", async () => {
    // (the first test ran `cloud-init schema` on this very user-data)
    expect(resultOf(seeding).fragments).toEqual(['antrag-formular/1.1.0/cloud-init.yaml']);
    const userData = parse(await readFile(path.join(dir, 'seeds/kiel-test/user-data'), 'utf8'));
    expect(userData.packages).toEqual(['ca-certificates', 'curl', 'sudo', 'tar', 'nodejs']);
    expect(userData.users.map((u: { name: string }) => u.name)).toEqual(['ozg', 'ozg-antrag']);
    expect(userData.users[1]).toEqual({ name: 'ozg-antrag', system: true, shell: '/usr/sbin/nologin', homedir: '/var/lib/ozg-antrag' });
    // rendered for the site
    expect(userData.write_files.find((f: { path: string }) => f.path === '/etc/ozg/antrag-formular/site.env')).toMatchObject({
      content: "OZG_SITE='kiel'\nOZG_MUNICIPALITY_KEY='01002000'\n",
      permissions: '0644',
    });
  });

  it('refuses a fragment that renders a secret value: exit 3 naming the fragment, nothing written', async () => {
    const secret = (await readFile(path.join(dir, 'examples/secrets/kiel-smtp.txt'), 'utf8')).trim();
    // the site put its SMTP password into a value the fragment renders
    await writeFile(path.join(dir, 'sites.yaml'), (await readFile(path.join(dir, 'sites.yaml'), 'utf8')).replace('title: "Kiel"', `title: ${JSON.stringify(secret)}`));
    const fragmentFile = path.join(dir, 'templates/antrag-formular/1.1.0/cloud-init.yaml');
    await writeFile(fragmentFile, (await readFile(fragmentFile, 'utf8')) + 'final_message: {{ values.title | yaml }}\n');
    const seedsBefore = (await readdir(path.join(dir, 'seeds'))).sort();
    const knownHosts = await readFile(path.join(dir, 'known_hosts'), 'utf8');

    const run = await runOzg(['cloud-init', 'kiel', '--env', 'test', '--with-procedures', '--include-secrets', '--replace', '--out', 'seeds/again'], { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/antrag-formular\/1\.1\.0\/cloud-init\.yaml:\d+:1 +\(document\) +renders the value of secret smtpPassword/);
    expect(run.stderr).toContain('release file');
    expect(run.stdout + run.stderr).not.toContain(secret);
    expect(existsSync(path.join(dir, 'seeds/again'))).toBe(false);
    expect((await readdir(path.join(dir, 'seeds'))).sort()).toEqual(seedsBefore);
    expect(await readFile(path.join(dir, 'known_hosts'), 'utf8')).toBe(knownHosts);
  });

  it('refuses a fragment value of the wrong type: exit 3 with the fragment file and line', async () => {
    const fragmentFile = path.join(dir, 'templates/antrag-formular/1.1.0/cloud-init.yaml');
    const template = await readFile(fragmentFile, 'utf8');
    // one word, not a list of packages
    await writeFile(fragmentFile, template.replace('packages:\n  - nodejs\n  - ca-certificates', 'packages: nodejs ca-certificates'));
    const line = template.split('\n').indexOf('packages:') + 1;
    expect(line).toBeGreaterThan(1);

    const run = await runOzg(['cloud-init', 'kiel', '--env', 'test', '--with-procedures', '--include-secrets', '--replace', '--out', 'seeds/again'], { cwd: dir });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`antrag-formular/1.1.0/cloud-init.yaml:${line}:11  packages  must be a list`);
    expect(existsSync(path.join(dir, 'seeds/again'))).toBe(false);
  });

  it("installs the site's procedures on first boot with the deploy's own apply script", async () => {
    const userData = parse(await readFile(path.join(dir, 'seeds/kiel-test/user-data'), 'utf8'));
    // first boot, as cloud-init would run it: write_files, then runcmd in order
    for (const file of userData.write_files) {
      // a fragment's files (/etc/ozg/…) belong to the VM, not to this machine
      if (!file.path.startsWith(path.join(dir, 'vm-root') + '/')) continue;
      await mkdir(path.dirname(file.path), { recursive: true });
      await writeFile(file.path, file.encoding === 'b64' ? Buffer.from(file.content, 'base64') : file.content, { mode: parseInt(file.permissions, 8) });
    }
    // skipped: what needs the VM itself (the deploy user's ownership, the provisioned marker in /var/lib)
    const needsVm = (command: string[]) => ['set', 'install', 'chown'].includes(command[0]!) || command.some((a) => a.includes('/var/lib/ozg'));
    for (const command of userData.runcmd) {
      if (!Array.isArray(command) || needsVm(command)) continue;
      execFileSync(command[0], command.slice(1), { stdio: 'pipe' });
    }
    const procedureDir = path.join(dir, 'vm-root/kiel/antrag-formular');
    const marker = JSON.parse(await readFile(path.join(procedureDir, 'release.json'), 'utf8'));
    expect(marker).toMatchObject({ procedure: 'antrag-formular', version: '1.1.0' });
    expect(await readlink(path.join(procedureDir, 'current'))).toBe(`releases/${marker.release}`);
    expect(existsSync(path.join(dir, 'vm-root/.ozg-seed'))).toBe(false);
  });

  it('refuses to re-seed a host whose key is pinned unless --replace', async () => {
    const again = await runOzg(['cloud-init', 'kiel', '--env', 'test'], { cwd: dir });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('--replace');
    expect((await runOzg(['cloud-init', 'kiel', '--env', 'test', '--replace'], { cwd: dir })).code).toBe(0);
  });
});
