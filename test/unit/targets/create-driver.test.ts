import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError, InvalidTargetError } from '../../../src/errors.js';
import type { DataCenter, EnvironmentSpec, Site } from '../../../src/inventory/types.js';
import { checkBundleForTarget, createDriver, resolveLocalRoot } from '../../../src/targets/create-driver.js';
import { configMap, makeBundle } from './kubernetes/make-bundle.js';

function dataCenter(kind: DataCenter['kind'], test: EnvironmentSpec): DataCenter {
  return { name: 'dc1', kind, environments: { test }, keepReleases: 3 };
}
function site(name: string): Site {
  return { name, labels: {}, dataCenter: 'dc1', facts: {}, setups: [] };
}

describe('createDriver', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ozg-create-driver-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a local data center a VM driver rooted at <environment root>/<site>', async () => {
    const spec: EnvironmentSpec = { name: 'test', root: join(dir, 'test') };
    const driver = await createDriver(dataCenter('local', spec), spec, site('kiel'));
    try {
      expect(driver.description).toBe(`kiel/test @ ${join(dir, 'test', 'kiel')}`);
      expect(await driver.live('antrag-formular')).toBeUndefined();
    } finally {
      await driver.close();
    }
  });

  it('needs a host for a vm site in that environment', async () => {
    const spec: EnvironmentSpec = { name: 'test', ssh: { user: 'deploy' } };
    const error = await createDriver(dataCenter('vm', spec), spec, site('kiel')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTargetError);
    expect((error as Error).message).toContain('sites.kiel.hosts.test: site kiel has no test host');
  });

  it('gives a vm site an SSH-backed VM driver under <deployRoot>/<site>, connecting lazily', async () => {
    const spec: EnvironmentSpec = { name: 'test', deployRoot: '/srv/ozg', ssh: { user: 'deploy', port: 2222, knownHosts: join(dir, 'known_hosts') } };
    const driver = await createDriver(dataCenter('vm', spec), spec, { ...site('kiel'), hosts: { test: { host: '127.0.0.1' } } });
    try {
      expect(driver.description).toBe('kiel/test @ deploy@127.0.0.1:2222');
    } finally {
      await driver.close();
    }
  });

  it.each(['..', '../escape', 'a/b', '/abs', 'Kiel', ''])('refuses the site name %j', async (name) => {
    const spec: EnvironmentSpec = { name: 'test', root: join(dir, 'test') };
    await expect(createDriver(dataCenter('local', spec), spec, site(name))).rejects.toThrow(InvalidTargetError);
  });

  it('keeps a resolved root inside the environment root even without the name check', () => {
    const spec: EnvironmentSpec = { name: 'test', root: join(dir, 'test') };
    expect(resolveLocalRoot(dataCenter('local', spec), spec, site('kiel'))).toBe(join(dir, 'test', 'kiel'));
    for (const name of ['..', '../x', 'a/../../x', '/etc', '.']) {
      expect(() => resolveLocalRoot(dataCenter('local', spec), spec, site(name))).toThrow(InvalidTargetError);
      expect(() => resolveLocalRoot(dataCenter('local', spec), spec, site(name))).toThrow(/outside/);
    }
  });

  it('needs an absolute root for a local environment', async () => {
    const spec: EnvironmentSpec = { name: 'test', root: 'relative/dir' };
    await expect(createDriver(dataCenter('local', spec), spec, site('kiel'))).rejects.toThrow(/absolute root/);
    const none: EnvironmentSpec = { name: 'test' };
    await expect(createDriver(dataCenter('local', none), none, site('kiel'))).rejects.toThrow(/absolute root/);
  });
});

describe('checkBundleForTarget', () => {
  const spec: EnvironmentSpec = { name: 'test', kubeconfig: '/nonexistent/kubeconfig', namespace: 'ozg-{site}-test' };

  it('passes a bundle that stays in the site namespace, without reading the kubeconfig', async () => {
    await expect(checkBundleForTarget(dataCenter('kubernetes', spec), spec, site('kiel'), makeBundle({ 'cm.yaml': configMap('web-config') }))).resolves.toBeUndefined();
  });

  it('refuses an object naming another site’s namespace as invalid input, with file and document', async () => {
    const bundle = makeBundle({ 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: ozg-husum-test\n' });
    const error = (await checkBundleForTarget(dataCenter('kubernetes', spec), spec, site('kiel'), bundle).catch((e: unknown) => e)) as InvalidInputError;
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.problems).toEqual([
      expect.objectContaining({ file: 'antrag-formular/1.0.0/cm.yaml', line: 5, path: 'documents[0].metadata.namespace', message: expect.stringContaining('this target is namespace ozg-kiel-test only') }),
    ]);
  });

  it('runs the VM driver checks on bundles for VM and local targets', async () => {
    const local: EnvironmentSpec = { name: 'test', root: '/srv/ozg' };
    const vmBundle = (files: Record<string, string>) => ({ ...makeBundle(files), targetKind: 'vm' as const });
    await expect(checkBundleForTarget(dataCenter('local', local), local, site('kiel'), vmBundle({ 'not-a-manifest.sh': 'echo hi' }))).resolves.toBeUndefined();
    const error = await checkBundleForTarget(dataCenter('local', local), local, site('kiel'), vmBundle({ '.ozg-release': 'x' }), { describeFile: (p) => `tpl/files/${p}` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems).toEqual([expect.objectContaining({ file: 'tpl/files/.ozg-release', path: 'sites.kiel.procedures.antrag-formular' })]);
  });
});
