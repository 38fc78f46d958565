import path from 'node:path';
import { InvalidInputError, formatProblem } from '../../../src/errors.js';
import { loadProjectBySite } from '../../../src/inventory/load-by-site.js';

/** A real catalogue (antrag-formular 1.0.0, 1.1.0, 2.0.0, 2.1.0-rc.1); the inventory itself is in memory. */
const catalogue = path.resolve('test/fixtures/valid/defaults-and-ranges/templates');
const SECRET = 'smtp-secret-value-1234';

function load(sitesYaml: string, scope: 'by-site' | 'every-problem' = 'by-site', checkSecrets = true) {
  const files: Record<string, string> = { '/inv/sites.yaml': `catalogues: [${catalogue}]\n${sitesYaml}` };
  return loadProjectBySite(
    {
      inventoryPath: 'sites.yaml',
      cwd: '/inv',
      env: { SMTP: SECRET, HOME: '/home/admin' },
      checkSecrets,
      readFile: async (file) => {
        if (files[file] === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        return files[file];
      },
    },
    scope,
  );
}

const dataCenter = `
dataCenters:
  local-dc:
    kind: local
    environments:
      test: { root: ./targets/test }
`;
const site = (name: string, extra = '', secret = 'SMTP', labels = '{ ring: main }') => `
  ${name}:
    dataCenter: local-dc
    labels: ${labels}
    procedures:
      antrag-formular:
        version: 1.0.0
        values: { title: Antrag${extra} }
        secrets: { smtpPassword: { env: ${secret} } }`;

describe('loadProjectBySite', () => {
  it("keeps a site's own problems to that site: the others resolve", async () => {
    const yaml = `${dataCenter}sites:${site('kiel')}${site('husum', '', 'MISSING')}${site('flensburg', ', port: "<fill in: port>"')}${site('heide', ', port: 80')}${site('plon', '', 'SMTP', '{ ring: [x] }')}\n`;
    const project = await load(yaml);
    expect(project.items.map((item) => item.site.name)).toEqual(['kiel']);
    expect(project.invalidSites.map((s) => [s.name, s.problems.length])).toEqual([
      ['husum', 1],
      ['flensburg', 1],
      ['heide', 1],
      ['plon', 1],
    ]);
    expect(project.invalidSites.map((s) => formatProblem(s.problems[0]!))).toEqual([
      expect.stringMatching(/^sites\.yaml:\d+:\d+ .*MISSING/),
      expect.stringMatching(/^sites\.yaml:\d+:\d+ .*placeholder/),
      expect.stringMatching(/^sites\.yaml:\d+:\d+ .*port/),
      // a site the schema refuses is still known by name (and its plain labels) to selections
      expect.stringMatching(/^sites\.yaml:\d+:\d+ {2}sites\.plon\.labels\.ring/),
    ]);
    expect(project.everySite.map((s) => s.name)).toEqual(['kiel', 'husum', 'flensburg', 'heide', 'plon']);
    expect(project.everySite[4]!.labels).toEqual({});
  });

  it('without secret checks a missing secret is no problem (status, plan, render, history)', async () => {
    const project = await load(`${dataCenter}sites:${site('kiel')}${site('husum', '', 'MISSING')}\n`, 'by-site', false);
    expect(project.invalidSites).toEqual([]);
    expect(project.items.map((item) => item.site.name)).toEqual(['kiel', 'husum']);
  });

  it('stops on problems no site owns: the data-center section', async () => {
    const yaml = `${dataCenter.replace('kind: local', 'kind: lokal')}sites:${site('kiel')}\n`;
    const error = await load(yaml).then(() => undefined, (thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems.map(formatProblem)).toEqual([expect.stringMatching(/dataCenters\.local-dc\.kind/)]);
  });

  it('every-problem (validate) throws for any site problem, as loadProject does', async () => {
    const error = await load(`${dataCenter}sites:${site('kiel')}${site('husum', '', 'MISSING')}\n`, 'every-problem').then(() => undefined, (thrown: unknown) => thrown);
    expect((error as InvalidInputError).problems.map(formatProblem)).toEqual([expect.stringMatching(/MISSING/)]);
  });
});
