import { parse } from 'yaml';
import { InvalidInputError } from '../../../src/errors.js';
import { parseCloudInitFragment } from '../../../src/cloud-init/fragments.js';
import { buildSeed, PROVISIONED_MARKER, type BuildSeedInput } from '../../../src/cloud-init/seed.js';
import { createSecretRedactor } from '../../../src/inventory/secret-redactor.js';
import { createFakeRunCommand, createSeedInput } from './fake-run-command.js';

const noSecrets = (text: string) => text;

function fragment(file: string, text: string) {
  return parseCloudInitFragment(text, file, noSecrets);
}

async function userDataOf(overrides: Partial<BuildSeedInput>): Promise<any> {
  const { runCommand } = createFakeRunCommand();
  const seed = await buildSeed(createSeedInput(overrides), { runCommand });
  return parse(seed.userData, { version: '1.1' });
}

async function refusal(overrides: Partial<BuildSeedInput>): Promise<InvalidInputError> {
  const error = await userDataOf(overrides).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

const APP = `#cloud-config
packages:
  - nodejs
  - curl
users:
  - name: ozg-antrag
    system: true
write_files:
  - path: /etc/ozg/antrag/site.env
    content: "OZG_SITE=kiel\\n"
runcmd:
  - [systemctl, enable, antrag]
timezone: Europe/Berlin
`;
const DMS = `#cloud-config
packages: [nodejs, [openjdk-17-jre-headless, 17.0.9+9-1~deb12u1]]
users: [{ name: ozg-dms }]
write_files: [{ path: /etc/ozg/dms/site.env, content: "x" }]
runcmd: ["echo dms >> /var/log/dms.log"]
timezone: Europe/Berlin
`;

describe('cloud-init fragments merged into the seed', () => {
  it('takes the union of packages, appends users and files, and runs fragment commands after the base set-up and before the first deploy', async () => {
    const config = await userDataOf({
      firstDeploy: { files: [], runcmd: [['first-deploy']] },
      fragments: [fragment('antrag/1.1.0/cloud-init.yaml', APP), fragment('dms/1.0.0/cloud-init.yaml', DMS)],
    });
    expect(config.packages).toEqual(['ca-certificates', 'curl', 'tar', 'nodejs', ['openjdk-17-jre-headless', '17.0.9+9-1~deb12u1']]);
    expect(config.package_update).toBe(true);
    expect(config.users.map((u: any) => u.name)).toEqual(['ozg', 'ozg-antrag', 'ozg-dms']);
    expect(config.write_files.map((f: any) => f.path)).toEqual(['/etc/ozg/antrag/site.env', '/etc/ozg/dms/site.env']);
    expect(config.runcmd.map((c: any) => (Array.isArray(c) ? c[0] : c))).toEqual(['set', 'install', 'systemctl', 'echo dms >> /var/log/dms.log', 'first-deploy', 'install', 'sh']);
    expect(config.runcmd.at(-1)).toContain(PROVISIONED_MARKER);
    // an equal value from two fragments is no conflict
    expect(config.timezone).toBe('Europe/Berlin');
  });

  it('refuses a user the seed or another fragment declares, naming both sources', async () => {
    const error = await refusal({
      fragments: [fragment('antrag/1.1.0/cloud-init.yaml', APP), fragment('dms/1.0.0/cloud-init.yaml', '#cloud-config\nusers:\n  - name: ozg\n  - name: ozg-antrag\n')],
    });
    expect(error.problems.map((p) => `${p.file}:${p.line} ${p.path} ${p.message}`)).toEqual([
      'dms/1.0.0/cloud-init.yaml:3 users[0].name user ozg is declared by the seed ozg writes (deploy user, host keys, first deploy) too',
      'dms/1.0.0/cloud-init.yaml:4 users[1].name user ozg-antrag is declared by antrag/1.1.0/cloud-init.yaml:6 too',
    ]);
  });

  it('refuses a file path written twice, naming both sources', async () => {
    const error = await refusal({
      firstDeploy: { files: [{ path: 'seed.txt', content: 'x', mode: 0o600 }], runcmd: [] },
      fragments: [fragment('antrag/1.1.0/cloud-init.yaml', APP), fragment('dms/1.0.0/cloud-init.yaml', '#cloud-config\nwrite_files:\n  - path: /etc/ozg/antrag/site.env\n  - path: /opt/ozg/seed.txt\n')],
    });
    expect(error.problems.map((p) => `${p.file}:${p.line} ${p.message}`)).toEqual([
      'dms/1.0.0/cloud-init.yaml:3 /etc/ozg/antrag/site.env is written by antrag/1.1.0/cloud-init.yaml:9 too',
      'dms/1.0.0/cloud-init.yaml:4 /opt/ozg/seed.txt is written by the seed ozg writes (deploy user, host keys, first deploy) too',
    ]);
  });

  it('refuses another value for a key the seed or an earlier fragment sets, naming both sources', async () => {
    const error = await refusal({
      fragments: [fragment('antrag/1.1.0/cloud-init.yaml', APP), fragment('dms/1.0.0/cloud-init.yaml', '#cloud-config\nssh_pwauth: true\ntimezone: UTC\n')],
    });
    expect(error.problems.map((p) => `${p.file}:${p.line} ${p.message}`)).toEqual([
      'dms/1.0.0/cloud-init.yaml:2 ssh_pwauth is set to another value by the seed ozg writes (deploy user, host keys, first deploy): only one source may set it',
      'dms/1.0.0/cloud-init.yaml:3 timezone is set to another value by antrag/1.1.0/cloud-init.yaml:13: only one source may set it',
    ]);
  });
});

describe('parseCloudInitFragment', () => {
  it('names file, line and field of a value of the wrong type', () => {
    const error = (() => {
      try {
        fragment('antrag/1.1.0/cloud-init.yaml', '#cloud-config\npackages:\n  - nodejs\n  - 42\nusers: ozg-antrag\nwrite_files:\n  - path: relative.txt\nruncmd:\n  - []\n');
      } catch (e) {
        return e as InvalidInputError;
      }
      throw new Error('not refused');
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.exitCode).toBe(3);
    expect(error.problems.map((p) => `${p.file}:${p.line}:${p.col} ${p.path}`)).toEqual([
      'antrag/1.1.0/cloud-init.yaml:4:5 packages[1]',
      'antrag/1.1.0/cloud-init.yaml:5:8 users',
      'antrag/1.1.0/cloud-init.yaml:7:11 write_files[0].path',
      'antrag/1.1.0/cloud-init.yaml:9:5 runcmd[0]',
    ]);
  });

  it("reports the template's line where Liquid tags shifted the rendered lines, and says so where it cannot", () => {
    const template = '#cloud-config\n{% capture x -%}\nOZG_SITE=kiel\n{% endcapture -%}\npackages: nodejs\nusers:\n  - name: {{ site.name }}-Bad\n';
    const rendered = '#cloud-config\npackages: nodejs\nusers:\n  - name: kiel-Bad\n';
    let error: InvalidInputError | undefined;
    try {
      parseCloudInitFragment(rendered, 'antrag/1.1.0/cloud-init.yaml', noSecrets, template);
    } catch (e) {
      error = e as InvalidInputError;
    }
    expect(error!.problems.map((p) => `${p.file}:${p.line} ${p.path} ${p.message}`)).toEqual([
      'antrag/1.1.0/cloud-init.yaml:5 packages must be a list',
      'antrag/1.1.0/cloud-init.yaml:4 users[0].name must be a user name (lower-case letters, digits, _ and -) (line 4 of the fragment as rendered for this site)',
    ]);
  });

  it('refuses a fragment that renders a secret value, naming the file and line but not the value', () => {
    const redactor = createSecretRedactor();
    redactor.add('smtpPassword', 'correct-horse-battery');
    let error: InvalidInputError | undefined;
    try {
      parseCloudInitFragment('#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: "pw=correct-horse-battery"\n', 'antrag/1.1.0/cloud-init.yaml', (t) => redactor.redact(t));
    } catch (e) {
      error = e as InvalidInputError;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error!.message).toContain('antrag/1.1.0/cloud-init.yaml:4:1');
    expect(error!.message).toContain('renders the value of secret smtpPassword');
    expect(error!.message).not.toContain('correct-horse-battery');
    expect(error!.hint).toMatch(/release file/);
  });
});
