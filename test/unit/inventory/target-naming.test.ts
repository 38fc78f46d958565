import path from 'node:path';
import { InvalidTargetError } from '../../../src/errors.js';
import { loadProject } from '../../../src/inventory/load-project.js';
import { formatLocalTarget, formatNamespace, formatVmTarget, isValidNamespace, listEnvironmentNames, listEnvironments } from '../../../src/inventory/target-naming.js';
import type { DataCenter, EnvironmentSpec } from '../../../src/inventory/types.js';
import { resolveNamespace } from '../../../src/targets/kubernetes/kube-target.js';

const test: EnvironmentSpec = { name: 'test', namespace: 'ozg-{site}-test' };
const prod: EnvironmentSpec = { name: 'prod', namespace: 'ozg-{site}' };
const dataCenter = (environments: DataCenter['environments']): DataCenter => ({ name: 'k8s', kind: 'kubernetes', environments, keepReleases: 3 });

describe('target naming', () => {
  it('lists test, then prod when the data center has one', () => {
    expect(listEnvironmentNames(dataCenter({ test }))).toEqual(['test']);
    expect(listEnvironmentNames(dataCenter({ test, prod }))).toEqual(['test', 'prod']);
    expect(listEnvironments(dataCenter({ test, prod }))).toEqual([['test', test], ['prod', prod]]);
  });

  it('fills the site into every {site} of a namespace pattern', () => {
    expect(formatNamespace('ozg-{site}-test', 'kiel')).toBe('ozg-kiel-test');
    expect(formatNamespace('{site}-{site}', 'kiel')).toBe('kiel-kiel');
  });

  it('takes a namespace of at most 63 lowercase letters, digits and hyphens', () => {
    expect(isValidNamespace('a'.repeat(63))).toBe(true);
    expect(isValidNamespace('a'.repeat(64))).toBe(false);
    for (const bad of ['Kiel', '-kiel', 'kiel-', 'ki_el', '']) expect(isValidNamespace(bad)).toBe(false);
  });

  it('puts a site at <root>/<site> locally and at <deployRoot>/<site> on a VM', () => {
    expect(formatLocalTarget('/srv/ozg/test/', 'kiel')).toBe(path.resolve('/srv/ozg/test/kiel'));
    expect(formatVmTarget('/opt/ozg/', 'kiel')).toBe('/opt/ozg/kiel');
  });
});

describe('the inventory check and the Kubernetes driver name namespaces alike', () => {
  const catalogue = path.resolve('test/fixtures/valid/defaults-and-ranges/templates');
  // `ozg-{site}-test` adds 9 characters: a 54-character site fits, a 55-character one does not
  const fits = 'a'.repeat(54);
  const tooLong = 'b'.repeat(55);
  const sitesYaml = `catalogues: [${catalogue}]
dataCenters:
  k8s:
    kind: kubernetes
    environments:
      test: { kubeconfig: ./kubeconfig, namespace: "ozg-{site}-test" }
sites:
  ${fits}: { dataCenter: k8s }
  ${tooLong}: { dataCenter: k8s }
`;

  it('refuses in the check exactly the namespace the driver refuses', async () => {
    const project = await loadProject({ inventoryPath: 'sites.yaml', cwd: '/inv', env: { HOME: '/home/admin' }, readFile: async () => sitesYaml, collectProblems: true });
    expect(project.problems.map((problem) => [problem.path, problem.message])).toEqual([
      [`sites.${tooLong}`, `namespace "ozg-${tooLong}-test" (k8s, test) is not a valid Kubernetes namespace name: at most 63 lowercase letters, digits and hyphens`],
    ]);
    const k8s = project.inventory.dataCenters.get('k8s')!;
    const [first, second] = project.inventory.sites;
    expect(resolveNamespace(k8s, k8s.environments.test, first)).toBe(`ozg-${fits}-test`);
    expect(() => resolveNamespace(k8s, k8s.environments.test, second)).toThrow(InvalidTargetError);
  });
});
