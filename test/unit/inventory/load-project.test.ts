import path from 'node:path';
import { InvalidInputError, formatProblem } from '../../../src/errors.js';
import { loadProject } from '../../../src/inventory/load-project.js';
import type { LoadProjectOptions } from '../../../src/inventory/load-project.js';

/** A real catalogue (antrag-formular 1.0.0, 1.1.0, 2.0.0, 2.1.0-rc.1); the inventory itself is in memory. */
const catalogue = path.resolve('test/fixtures/valid/defaults-and-ranges/templates');
const SECRET = 'smtp-secret-value-1234';

function load(sitesYaml: string, extra: Partial<LoadProjectOptions> & { files?: Record<string, string> } = {}) {
  const files: Record<string, string> = { '/inv/sites.yaml': `catalogues: [${catalogue}]\n${sitesYaml}`, ...(extra.files ?? {}) };
  return loadProject({
    inventoryPath: 'sites.yaml',
    cwd: '/inv',
    env: { KIEL_SMTP: SECRET, HOME: '/home/admin' },
    readFile: async (file) => {
      if (files[file] === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return files[file];
    },
    ...extra,
  });
}

async function loadProblems(sitesYaml: string, extra: Parameters<typeof load>[1] = {}): Promise<string[]> {
  const error = await load(sitesYaml, extra).then(() => undefined, (thrown: unknown) => thrown);
  expect(error).toBeInstanceOf(InvalidInputError);
  return (error as InvalidInputError).problems.map(formatProblem);
}

const localDataCenter = `
dataCenters:
  local-dc:
    kind: local
    environments:
      test: { root: ./targets/test }
      prod: { root: /srv/ozg/prod }
`;

describe('loadProject: defaults and the site choice', () => {
  const inventory = `
defaults:
  procedures:
    antrag-formular:
      version: ^1.0.0
      values: { port: 8081, title: Antrag }
      secrets:
        smtpPassword: { env: CENTRAL_SMTP }
      userConnection: { idp: servicekonto-sh }
${localDataCenter}
sites:
  kiel:
    dataCenter: local-dc
    procedures:
      antrag-formular:
        version: 1.0.0
        values: { title: Antrag Kiel }
        secrets:
          smtpPassword: { env: KIEL_SMTP }
        userConnection: { idp: servicekonto-sh, roles: [sachbearbeitung] }
  luebeck:
    dataCenter: local-dc
    procedures:
      antrag-formular:
        secrets:
          smtpPassword: { file: ./secrets/luebeck }
`;
  const files = { '/inv/secrets/luebeck': `${SECRET}\n` };

  it("takes each field from the site when it sets it, else from the central defaults", async () => {
    const project = await load(inventory, { files, env: { KIEL_SMTP: SECRET } });
    const [kiel, luebeck] = project.items;
    expect(kiel.procedure.version).toBe('1.0.0');
    expect(kiel.setup.version).toBe('1.0.0');
    expect(kiel.values).toEqual({ port: 8081, title: 'Antrag Kiel' });
    expect(kiel.setup.secrets).toEqual({ smtpPassword: { env: 'KIEL_SMTP' } });
    expect(kiel.setup.userConnection).toEqual({ idp: 'servicekonto-sh', roles: ['sachbearbeitung'] });
    expect(luebeck.setup.version).toBe('^1.0.0');
    expect(luebeck.procedure.version).toBe('1.1.0');
    expect(luebeck.values).toEqual({ port: 8081, title: 'Antrag' });
    expect(luebeck.setup.secrets).toEqual({ smtpPassword: { file: '/inv/secrets/luebeck' } });
    expect(luebeck.setup.userConnection).toEqual({ idp: 'servicekonto-sh' });
  });

  it('never stores a secret value in the inventory or the resolved setups', async () => {
    const project = await load(inventory, { files, env: { KIEL_SMTP: SECRET } });
    const everything = JSON.stringify({ ...project.inventory, dataCenters: [...project.inventory.dataCenters.values()] }) + JSON.stringify(project.items);
    expect(everything).not.toContain(SECRET);
  });

  it('reports an unresolvable central secret at the defaults, by reference only', async () => {
    const problems = await loadProblems(inventory.replace('        secrets:\n          smtpPassword: { file: ./secrets/luebeck }\n', '        values: { title: Antrag Lübeck }\n'), {
      files,
      env: { KIEL_SMTP: SECRET },
    });
    expect(problems).toEqual([
      'sites.yaml:9:30  defaults.procedures.antrag-formular.secrets.smtpPassword.env  secret "smtpPassword": environment variable CENTRAL_SMTP is not set',
    ]);
  });
});

describe('loadProject: absolute paths', () => {
  it('resolves paths from the inventory directory and ~ from HOME', async () => {
    const project = await load(`
ledger: state
dataCenters:
  local-dc:
    kind: local
    environments:
      test: { root: ./targets/test }
  k8s:
    kind: kubernetes
    environments:
      test: { kubeconfig: ~/.kube/config, namespace: "ozg-{site}" }
  vms:
    kind: vm
    environments:
      test: { ssh: { user: deploy, identityFile: ~/.ssh/id, knownHosts: known_hosts } }
sites: {}
`);
    const { inventory } = project;
    expect(inventory.file).toBe('/inv/sites.yaml');
    expect(inventory.ledgerDir).toBe('/inv/state');
    expect(inventory.catalogues).toEqual([catalogue]);
    expect(inventory.concurrency).toBe(8);
    expect(inventory.dataCenters.get('local-dc')).toEqual({ name: 'local-dc', kind: 'local', keepReleases: 3, environments: { test: { name: 'test', root: '/inv/targets/test' } } });
    expect(inventory.dataCenters.get('k8s')?.environments.test.kubeconfig).toBe('/home/admin/.kube/config');
    expect(inventory.dataCenters.get('vms')?.environments.test.ssh).toEqual({ user: 'deploy', identityFile: '/home/admin/.ssh/id', knownHosts: '/inv/known_hosts' });
  });
});

describe('loadProject: smoke start-up and rollout times of a Kubernetes environment', () => {
  const kubernetes = (seconds: string) => `
dataCenters:
  k8s:
    kind: kubernetes
    environments:
      test: { kubeconfig: ./kube.yaml, namespace: "ozg-{site}-test", smokeStartupSeconds: ${seconds} }
sites: {}
`;

  it('takes smokeStartupSeconds from the environment', async () => {
    const { inventory } = await load(kubernetes('15'));
    expect(inventory.dataCenters.get('k8s')?.environments.test.smokeStartupSeconds).toBe(15);
  });

  it('takes rolloutTimeoutSeconds (1-3600) from the environment', async () => {
    const { inventory } = await load(kubernetes('15, rolloutTimeoutSeconds: 90'));
    expect(inventory.dataCenters.get('k8s')?.environments.test.rolloutTimeoutSeconds).toBe(90);
    expect(await loadProblems(kubernetes('15, rolloutTimeoutSeconds: 0'))).toEqual(['sites.yaml:7:118  dataCenters.k8s.environments.test.rolloutTimeoutSeconds  must be >= 1']);
  });

  it('refuses a value below 0, above an hour or not a whole number, naming line, column and field', async () => {
    const field = 'dataCenters.k8s.environments.test.smokeStartupSeconds';
    expect(await loadProblems(kubernetes('-1'))).toEqual([`sites.yaml:7:91  ${field}  must be >= 0`]);
    expect(await loadProblems(kubernetes('3601'))).toEqual([`sites.yaml:7:91  ${field}  must be <= 3600`]);
    expect(await loadProblems(kubernetes('1.5'))).toEqual([expect.stringMatching(new RegExp(`^sites\\.yaml:7:91  ${field.replace(/\./g, '\\.')}  .*integer`))]);
  });
});

describe('loadProject: problems', () => {
  it('collects every problem of every stage, sorted by position', async () => {
    const problems = await loadProblems(`
${localDataCenter}
  bad:
    kind: vm
    environments: { test: { ssh: {} } }
sites:
  kiel:
    dataCenter: nowhere
  luebeck:
    dataCenter: local-dc
    procedures:
      antrag-formular:
        version: ^1.0.0
        values: { title: 1, colour: red }
        secrets:
          smtpPassword: { env: UNSET_SMTP }
`);
    expect(problems).toEqual([
      'sites.yaml:13:29  dataCenters.bad.environments.test.ssh.user  missing required field "user"',
      'sites.yaml:16:17  sites.kiel.dataCenter  unknown data center "nowhere" (defined: local-dc, bad)',
      'sites.yaml:22:26  sites.luebeck.procedures.antrag-formular.values.title  must be a string (got 1); quote it to keep it a string',
      'sites.yaml:22:29  sites.luebeck.procedures.antrag-formular.values.colour  unknown field "colour" (allowed: title, port, municipalityKey)',
      'sites.yaml:24:32  sites.luebeck.procedures.antrag-formular.secrets.smtpPassword.env  secret "smtpPassword": environment variable UNSET_SMTP is not set',
    ]);
  });

  it('skips secret resolution when asked to', async () => {
    const project = await load(`${localDataCenter}
sites:
  kiel:
    dataCenter: local-dc
    procedures:
      antrag-formular:
        version: 1.1.0
        values: { title: Kiel }
        secrets:
          smtpPassword: { env: UNSET_SMTP }
`, { checkSecrets: false });
    expect(project.items).toHaveLength(1);
  });

  it('reports a missing inventory as invalid input naming the file', async () => {
    const error = await loadProject({ inventoryPath: 'missing.yaml', cwd: '/nowhere', env: {} }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).problems).toEqual([{ file: 'missing.yaml', line: 1, col: 1, path: '', message: 'inventory file not found' }]);
  });

  it('names a root-level problem at the top of the file', async () => {
    expect(await loadProblems('sites: {}\n')).toEqual(['sites.yaml:1:1  dataCenters  missing required field "dataCenters"']);
  });

  it('reports a site in a collision with a nested local target', async () => {
    const problems = await loadProblems(`
dataCenters:
  a:
    kind: local
    environments: { test: { root: ./t } }
  b:
    kind: local
    environments: { test: { root: ./t/kiel } }
sites:
  kiel: { dataCenter: a }
  luebeck: { dataCenter: b }
`);
    expect(problems).toEqual(['sites.yaml:12:26  sites.luebeck.dataCenter  test target directory t/kiel/luebeck collides with site kiel (test); their releases would overwrite each other']);
  });
});
