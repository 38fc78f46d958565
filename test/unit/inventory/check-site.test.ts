import path from 'node:path';
import { formatProblem } from '../../../src/errors.js';
import { sortProblems } from '../../../src/input/problems.js';
import { checkInventoryWide } from '../../../src/inventory/check-inventory.js';
import { checkSite } from '../../../src/inventory/check-site.js';
import { loadProject, readProject } from '../../../src/inventory/load-project.js';
import type { LoadProjectOptions } from '../../../src/inventory/load-project.js';

/** A real catalogue (antrag-formular 1.0.0, 1.1.0, 2.0.0, 2.1.0-rc.1); the inventory itself is in memory. */
const catalogue = path.resolve('test/fixtures/valid/defaults-and-ranges/templates');

/** One sound site (kiel) among broken ones, and problems of the inventory as a whole. */
const sitesYaml = `catalogues: [${catalogue}]
defaults:
  procedures:
    no-such-procedure: { version: 1.0.0 }
dataCenters:
  local-dc:
    kind: local
    environments:
      test: { root: ./targets/test }
      prod: { root: ./targets/test }
  k8s:
    kind: kubernetes
    environments:
      test: { kubeconfig: ./kubeconfig, namespace: "ozg-{site}-with-a-pattern-long-enough-to-break-long-site-names" }
sites:
  kiel:
    dataCenter: local-dc
    procedures:
      antrag-formular:
        version: 1.1.0
        values: { title: Antrag Kiel }
        secrets:
          smtpPassword: { env: KIEL_SMTP }
  luebeck:
    dataCenter: local-dc
    procedures:
      antrag-formular:
        version: 9.0.0
        values: { title: 1 }
  amt-hohner-harde:
    dataCenter: k8s
  flensburg:
    dataCenter: nowhere
`;

const options: LoadProjectOptions = {
  inventoryPath: 'sites.yaml',
  cwd: '/inv',
  env: { KIEL_SMTP: 'smtp-secret-value-1234', HOME: '/home/admin' },
  readFile: async (file) => {
    if (file !== '/inv/sites.yaml') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    return sitesYaml;
  },
};

describe('checkSite', () => {
  it("finds a sound site sound, whatever is wrong with other sites or the inventory as a whole", async () => {
    const { check } = await readProject(options);
    const kiel = check.inventory.sites.find((site) => site.name === 'kiel')!;
    const result = await checkSite(check, kiel);
    expect(result.problems).toEqual([]);
    expect(result.resolved.map((item) => [item.site.name, item.procedure.name, item.procedure.version])).toEqual([['kiel', 'antrag-formular', '1.1.0']]);
  });

  it("reports only the site's own problems for a broken site", async () => {
    const { check } = await readProject(options);
    const problemsOf = async (name: string) => (await checkSite(check, check.inventory.sites.find((site) => site.name === name)!)).problems.map(formatProblem);
    expect(await problemsOf('luebeck')).toEqual([
      'sites.yaml:28:18  sites.luebeck.procedures.antrag-formular.version  version 9.0.0 of antrag-formular is not in the catalogue (available: 2.1.0-rc.1, 2.0.0, 1.1.0, 1.0.0)',
    ]);
    expect(await problemsOf('amt-hohner-harde')).toEqual([
      'sites.yaml:30:3  sites.amt-hohner-harde  namespace "ozg-amt-hohner-harde-with-a-pattern-long-enough-to-break-long-site-names" (k8s, test) is not a valid Kubernetes namespace name: at most 63 lowercase letters, digits and hyphens',
    ]);
    expect(await problemsOf('flensburg')).toEqual(['sites.yaml:33:17  sites.flensburg.dataCenter  unknown data center "nowhere" (defined: local-dc, k8s)']);
  });

  it('makes up, with the inventory-wide rules, every problem loadProject reports', async () => {
    const { check, problems: read } = await readProject(options);
    const perSite = await Promise.all(check.inventory.sites.map((site) => checkSite(check, site)));
    const pieced = sortProblems([...read, ...checkInventoryWide(check), ...perSite.flatMap((site) => site.problems)], 'sites.yaml');
    const loaded = await loadProject({ ...options, collectProblems: true });
    expect(pieced.map(formatProblem)).toEqual(loaded.problems.map(formatProblem));
    expect(sortProblems(checkInventoryWide(check)).map(formatProblem)).toEqual([
      'sites.yaml:4:5  defaults.procedures.no-such-procedure  unknown procedure "no-such-procedure" (catalogue has: antrag-formular)',
      "sites.yaml:10:21  dataCenters.local-dc.environments.prod.root  prod uses the same root as test: every site's test and prod releases would overwrite each other",
    ]);
  });
});
