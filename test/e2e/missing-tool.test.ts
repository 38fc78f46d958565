import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyToTemp, removeTemp, repoRoot, runOzg } from '../helpers/run-ozg.js';

/**
 * Issue 9, item 11: a program missing on this machine is an environment problem with its
 * own exit code (8) and install step, never exit 1 "a bug". ozg finds ssh-keygen and the ISO
 * tools on PATH; each run here gets a PATH that lacks them.
 */
function findProgram(name: string, install: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} is not installed: ${install}`);
  }
}

describe('a required program missing on this machine', () => {
  let dir: string;
  let onlySshKeygen: string;
  let nothing: string;
  // a fresh project per test: a seed or known_hosts one run left never changes what the next one sees
  beforeEach(async () => {
    const sshKeygen = findProgram('ssh-keygen', 'apt-get install -y openssh-client');
    dir = await copyToTemp([
      { from: path.join(repoRoot, 'templates'), to: 'templates' },
      { from: path.join(repoRoot, 'examples'), to: 'examples' },
    ]);
    execFileSync(sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', 'operator@test', '-f', path.join(dir, 'operator')]);
    onlySshKeygen = path.join(dir, 'bin-ssh-keygen');
    nothing = path.join(dir, 'bin-empty');
    await mkdir(onlySshKeygen);
    await mkdir(nothing);
    await symlink(sshKeygen, path.join(onlySshKeygen, 'ssh-keygen'));
    await writeFile(
      path.join(dir, 'sites.yaml'),
      [
        'dataCenters:',
        '  dataport:',
        '    kind: vm',
        '    environments:',
        '      test: { deployRoot: /opt/ozg, ssh: { user: ozg, identityFile: ./operator, knownHosts: ./known_hosts } }',
        'sites:',
        '  kiel:',
        '    dataCenter: dataport',
        '    hosts: { test: { host: 127.0.0.1, port: 2222 } }',
        '    procedures: {}',
      ].join('\n') + '\n',
    );
  });
  afterEach(() => removeTemp(dir));

  it('cloud-init --iso without cloud-localds, genisoimage or xorriso exits 8 naming the install step', async () => {
    const run = await runOzg(['cloud-init', 'kiel', '--env', 'test', '--iso', '-o', 'seed-a'], { cwd: dir, env: { PATH: onlySshKeygen } });
    expect(run.code).toBe(8);
    expect(run.stderr).toContain('none of cloud-localds, genisoimage or xorriso is installed');
    expect(run.stderr).toContain('apt-get install -y xorriso');
    expect(run.stderr).not.toMatch(/internal error|a bug/i);
  });

  it('cloud-init without ssh-keygen exits 8 naming the install step', async () => {
    const run = await runOzg(['cloud-init', 'kiel', '--env', 'test', '-o', 'seed-b'], { cwd: dir, env: { PATH: nothing } });
    expect(run.code).toBe(8);
    expect(run.stderr).toContain('ssh-keygen is not installed on this machine');
    expect(run.stderr).toContain('apt-get install -y openssh-client');
  });
});
