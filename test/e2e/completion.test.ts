import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ozgBin, removeTemp, runOzg } from '../helpers/run-ozg.js';

const INVENTORY = `sites:
  kiel: { dataCenter: dc, procedures: { antrag-formular: {} } }
  husum: { dataCenter: dc, procedures: { dms-connector: {} } }
`;

/** Runs a bash (or zsh) script with `ozg` on PATH (the built CLI), as a user's shell would. */
function bash(script: string, cwd: string, bin: string, shell: 'bash' | 'zsh' = 'bash'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = shell === 'bash' ? ['--norc', '--noprofile', '-c', script] : ['-f', '-c', script];
    const child = spawn(shell, args, {
      cwd,
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: cwd, CI: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (error) => reject(new Error(`${shell} is needed for this test (apt-get install -y ${shell}): ${error.message}`)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('shell completion', () => {
  let dir: string;
  let bin: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-completion-'));
    await writeFile(path.join(dir, 'sites.yaml'), INVENTORY);
    await mkdir(path.join(dir, 'other'));
    await writeFile(path.join(dir, 'other/fleet.yaml'), 'sites: { flensburg: {}, heide: {} }\n');
    await writeFile(path.join(dir, 'broken.yaml'), 'sites: [unclosed\n');
    bin = path.join(dir, 'bin');
    await mkdir(bin);
    await symlink(ozgBin, path.join(bin, 'ozg'));
  });
  afterAll(async () => {
    await removeTemp(dir);
  });

  it('__complete answers flags of the command and site names of the inventory in the folder', async () => {
    const flags = await runOzg(['__complete', 'deploy', '--w'], { cwd: dir });
    expect(flags).toEqual({ code: 0, signal: null, stdout: '--waves\n', stderr: '' });
    const sites = await runOzg(['__complete', 'deploy', 'k'], { cwd: dir });
    expect(sites).toEqual({ code: 0, signal: null, stdout: 'kiel\n', stderr: '' });
    const procedures = await runOzg(['__complete', 'plan', '-p', ''], { cwd: dir });
    expect(procedures.stdout).toBe('antrag-formular\ndms-connector\n');
  });

  it('honours -i and $OZG_INVENTORY, and offers nothing, quietly, when the inventory is broken or missing', async () => {
    expect((await runOzg(['__complete', '-i', 'other/fleet.yaml', 'deploy', ''], { cwd: dir })).stdout).toBe('flensburg\nheide\n');
    expect((await runOzg(['__complete', 'deploy', ''], { cwd: dir, env: { OZG_INVENTORY: 'other/fleet.yaml' } })).stdout).toBe('flensburg\nheide\n');
    expect(await runOzg(['__complete', '-i', 'broken.yaml', 'deploy', ''], { cwd: dir })).toEqual({ code: 0, signal: null, stdout: '', stderr: '' });
    expect(await runOzg(['__complete', '-i', 'missing.yaml', 'deploy', 'k'], { cwd: dir })).toEqual({ code: 0, signal: null, stdout: '', stderr: '' });
    // a partial line commander would refuse (unknown flag, -h) is still only completed
    expect(await runOzg(['__complete', 'deploy', '--nonsense', '-h', 'hu'], { cwd: dir })).toEqual({ code: 0, signal: null, stdout: 'husum\n', stderr: '' });
  });

  it('the bash script, sourced in real bash, fills COMPREPLY from ozg', async () => {
    const script = [
      'source <(ozg completion bash)',
      'complete -p ozg',
      'COMP_WORDS=(ozg deploy k); COMP_CWORD=2; _ozg_complete; echo "sites: ${COMPREPLY[*]}"',
      'COMP_WORDS=(ozg de); COMP_CWORD=1; _ozg_complete; echo "commands: ${COMPREPLY[*]}"',
      'COMP_WORDS=(ozg deploy --only); COMP_CWORD=2; _ozg_complete; echo "flags: ${COMPREPLY[*]}"',
      'COMP_WORDS=(ozg rollback kiel -e ""); COMP_CWORD=4; _ozg_complete; echo "envs: ${COMPREPLY[*]}"',
      'COMP_WORDS=(ozg -i other/fleet.yaml status ""); COMP_CWORD=4; _ozg_complete; echo "other: ${COMPREPLY[*]}"',
      'COMP_WORDS=(ozg deploy --junit ""); COMP_CWORD=3; _ozg_complete; echo "files: ${#COMPREPLY[@]}"',
    ].join('\n');
    const run = await bash(script, dir, bin);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout.split('\n')).toEqual([
      'complete -o default -F _ozg_complete ozg',
      'sites: kiel',
      'commands: deploy',
      'flags: --only-test',
      'envs: prod test',
      'other: flensburg heide',
      'files: 0', // the shell's own file name completion takes over (-o default)
      '',
    ]);
  });

  it('the zsh script, sourced in real zsh after compinit, offers what ozg answers, else file names', async () => {
    // compadd and _files work only inside a completion widget: stand-ins print what they are given
    const script = [
      `autoload -U compinit && compinit -u -d ${dir}/.zcompdump`,
      'source <(ozg completion zsh)',
      'compadd() { print -r -- "added: ${@[2,-1]}"; }',
      '_files() { print -r -- "files"; }',
      'words=(ozg deploy k); CURRENT=3; _ozg',
      'words=(ozg rollback kiel -e ""); CURRENT=5; _ozg',
      'words=(ozg deploy --junit ""); CURRENT=4; _ozg',
      'print -r -- "registered: ${_comps[ozg]}"',
    ].join('\n');
    const run = await bash(script, dir, bin, 'zsh');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout.split('\n')).toEqual(['added: kiel', 'added: prod test', 'files', 'registered: _ozg', '']);
  });

  it('prints a zsh script that calls back the same way', async () => {
    const zsh = await runOzg(['completion', 'zsh'], { cwd: dir });
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toMatch(/^#compdef ozg\n/);
    expect(zsh.stdout).toContain('ozg __complete "${(@)words[2,CURRENT]}"');
    expect(zsh.stdout).toContain('compdef _ozg ozg');
    expect((await runOzg(['completion', 'fish'], { cwd: dir })).code).toBe(2);
  });
});
