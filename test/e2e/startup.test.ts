import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyToTemp, removeTemp, repoRoot, ozgBin } from '../helpers/run-ozg.js';

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
    expect(loaded.some((url) => url.includes('/dist/cli.js'))).toBe(true);
    expect(loaded.filter((url) => heavy.some((name) => url.includes(`/node_modules/${name}`.replace('//', '/'))))).toEqual([]);
  });

  it('a local validate loads neither SSH nor Kubernetes', () => {
    const loaded = modulesLoadedBy(['validate', '-i', path.join(repoRoot, 'sites.example.yaml')]);
    expect(loaded.some((url) => url.includes('/node_modules/liquidjs/'))).toBe(true);
    expect(loaded.filter((url) => /node_modules\/(node-ssh|ssh2|@kubernetes)\//.test(url))).toEqual([]);
  });
});
