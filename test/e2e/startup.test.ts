import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyExampleToTemp, copyToTemp, removeTemp, repoRoot, ozgBin } from '../helpers/run-ozg.js';

/** `--help` and `--version` must not pay for heavy modules; a local deploy never loads SSH or Kubernetes. */
describe('start-up', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await copyToTemp([]);
  });
  afterAll(() => removeTemp(dir));

  function modulesLoadedBy(args: string[], cwd = dir): string[] {
    const trace = path.join(dir, `trace-${args.join('-').replace(/\W+/g, '_')}.txt`);
    const run = spawnSync(process.execPath, ['--import', path.join(repoRoot, 'test/helpers/trace-imports.mjs'), ozgBin, ...args], {
      cwd,
      env: { ...process.env, OZG_TRACE_IMPORTS: trace, CI: 'true' },
      encoding: 'utf8',
    });
    expect({ args, status: run.status, stderr: run.stderr }).toEqual({ args, status: 0, stderr: expect.any(String) });
    return readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  }

  const heavy = ['node-ssh', 'ssh2', '@kubernetes/client-node', 'execa', 'ora', 'liquidjs', 'ajv', '/yaml/'];

  it.each([['--help'], ['--version'], ['deploy', '--help']])('%s loads no heavy module', (...args) => {
    const loaded = modulesLoadedBy(args);
    // `--version` alone is answered by bin/ozg.js before the program loads (issue 14)
    expect(loaded.some((url) => url.includes(args[0] === '--version' ? '/bin/ozg.js' : '/dist/cli.js'))).toBe(true);
    if (args[0] === '--version') expect(loaded.filter((url) => url.includes('/dist/'))).toEqual([]);
    expect(loaded.filter((url) => heavy.some((name) => url.includes(`/node_modules/${name}`.replace('//', '/'))))).toEqual([]);
  });

  it('a local validate loads neither SSH nor Kubernetes', () => {
    const loaded = modulesLoadedBy(['validate', '-i', path.join(repoRoot, 'sites.example.yaml')]);
    expect(loaded.some((url) => url.includes('/node_modules/liquidjs/'))).toBe(true);
    expect(loaded.filter((url) => /node_modules\/(node-ssh|ssh2|@kubernetes)\//.test(url))).toEqual([]);
  });

  /**
   * Everyday commands on the deployed example (issue 14): each loads what it needs and nothing
   * else. history reads the ledger only: no catalogue, templates, ajv compiler or drivers.
   */
  describe('on the deployed example', () => {
    let example: string;
    beforeAll(async () => {
      example = await copyExampleToTemp();
      const deploy = spawnSync(process.execPath, [ozgBin, 'deploy'], { cwd: example, env: { ...process.env, CI: 'true' }, encoding: 'utf8' });
      expect({ status: deploy.status, stderr: deploy.stderr }).toEqual({ status: 0, stderr: expect.any(String) });
    });
    afterAll(() => removeTemp(example));

    const drivers = ['node-ssh', 'ssh2', '@kubernetes/client-node', 'execa', 'ora'];
    const underNodeModules = (loaded: string[], names: string[]) => loaded.filter((url) => names.some((name) => url.includes(`/node_modules/${name}/`)));
    const ours = (loaded: string[], files: string[]) => loaded.filter((url) => files.some((file) => url.endsWith(`/dist/${file}`)));

    it('history loads the ledger and the precompiled inventory check; no catalogue, templates, ajv compiler or drivers', () => {
      const loaded = modulesLoadedBy(['history'], example);
      expect(ours(loaded, ['ledger/ledger.js', 'input/generated/inventory-validator.js']).length).toBe(2);
      expect(underNodeModules(loaded, [...drivers, 'liquidjs', 'ajv-formats', 'p-limit'])).toEqual([]);
      // ajv's small runtime helpers serve the precompiled inventory validator; its compiler is never loaded
      expect(loaded.filter((url) => /\/node_modules\/ajv\/dist\/(ajv|core|compile\/)/.test(url))).toEqual([]);
      expect(ours(loaded, ['workspace/workspace.js', 'inventory/load-project.js', 'procedure/catalogue.js', 'procedure/render.js', 'input/compile-schema.js', 'targets/create-driver.js'])).toEqual([]);
    });

    it.each([['status'], ['plan']])('%s on a local data center loads neither SSH, Kubernetes, execa nor ora, and compiles no schema of ours', (command) => {
      const loaded = modulesLoadedBy([command], example);
      expect(ours(loaded, ['workspace/workspace.js', 'input/generated/inventory-validator.js', 'input/generated/procedure-validator.js']).length).toBe(3);
      expect(underNodeModules(loaded, drivers)).toEqual([]);
      expect(ours(loaded, ['targets/ssh/ssh-transport.js', 'targets/kubernetes/kube-driver.js', 'targets/kubernetes/kube-client.js'])).toEqual([]);
    });
  });
});
