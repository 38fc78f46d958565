import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createMiniProject, MINI_SITES_YAML } from '../helpers/mini-project.js';
import { removeTemp, runOzg } from '../helpers/run-ozg.js';

/**
 * Issue 9, item 11: what the VM driver would refuse at apply time (a bundle file named like
 * ozg's own release metadata, a target root with a NUL or `..`) is found by `validate` and
 * before a deploy's first target, with its position and exit 3; an operator's bad
 * `rollback --to` is a usage error (2), not "a bug" (1).
 */
const PROCEDURE = 'name: demo\nversion: 1.0.0\nvm:\n  files: files\n';

describe('checks the VM driver makes, made before anything is sent', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await removeTemp(dir);
    dir = undefined;
  });

  it('validate and deploy refuse a template named .ozg-release with its file and line (exit 3)', async () => {
    ({ dir } = await createMiniProject({ 'procedure.yaml': PROCEDURE, 'files/config.txt': 'ok\n', 'files/.ozg-release': 'version=9.9.9\n' }));
    const validate = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: validate.code, stderr: validate.stderr }).toEqual({
      code: 3,
      stderr: expect.stringContaining("demo/1.0.0/files/.ozg-release:1:1  sites.kiel.procedures.demo  test: .ozg-release is the name of ozg's own release metadata"),
    });
    const deploy = await runOzg(['deploy', '-i', 'sites.yaml'], { cwd: dir });
    expect(deploy.code).toBe(3);
    expect(existsSync(path.join(dir, 'targets'))).toBe(false);
  });

  it.each([
    ['a NUL character', '"/opt/o\\0zg"', 'deployRoot contains a NUL character'],
    ['a .. segment', '/opt/../etc', 'deployRoot must not have . or .. segments'],
  ])('validate refuses a deployRoot with %s at its position (exit 3)', async (_, deployRoot, message) => {
    const sitesYaml = [
      'catalogues: [./catalogue]',
      'dataCenters:',
      '  dataport:',
      '    kind: vm',
      '    environments:',
      '      test:',
      `        deployRoot: ${deployRoot}`,
      '        ssh: { user: ozg, identityFile: ./operator, knownHosts: ./known_hosts }',
      'sites:',
      '  kiel:',
      '    dataCenter: dataport',
      '    hosts: { test: { host: 127.0.0.1, port: 2222 } }',
      '    procedures:',
      '      demo: { version: 1.0.0 }',
    ].join('\n');
    ({ dir } = await createMiniProject({ 'procedure.yaml': PROCEDURE, 'files/config.txt': 'ok\n' }, { sitesYaml: sitesYaml + '\n' }));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'operator')]);
    const run = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 3, stderr: expect.stringContaining(`sites.yaml:7:21  dataCenters.dataport.environments.test.deployRoot  ${message}`) });
  });

  it('validate refuses a local root with a NUL character at its position (exit 3)', async () => {
    ({ dir } = await createMiniProject({ 'procedure.yaml': PROCEDURE, 'files/config.txt': 'ok\n' }, { sitesYaml: MINI_SITES_YAML.replace('root: ./targets/test', 'root: "./targets/te\\0st"') }));
    const run = await runOzg(['validate', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 3, stderr: expect.stringContaining('sites.yaml:7:21  dataCenters.local-dc.environments.test.root  root contains a NUL character') });
  });

  it('rollback --to a path instead of a release id is a usage error (exit 2)', async () => {
    ({ dir } = await createMiniProject({ 'procedure.yaml': PROCEDURE, 'files/config.txt': 'ok\n' }));
    const deploy = await runOzg(['deploy', '-i', 'sites.yaml'], { cwd: dir });
    expect(deploy.code).toBe(0);
    const run = await runOzg(['rollback', 'kiel', '-p', 'demo', '-e', 'test', '--to', '../x', '-i', 'sites.yaml'], { cwd: dir });
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 2, stderr: expect.stringContaining('--to "../x" is not a release id') });
    expect(existsSync(path.join(dir, '.ozg/lock'))).toBe(false);
  });
});
