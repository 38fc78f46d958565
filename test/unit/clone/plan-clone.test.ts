import { deriveSecretVariable, listSiteSpecificFields, planClone } from '../../../src/clone/plan-clone.js';
import type { PlanCloneInput } from '../../../src/clone/plan-clone.js';

/** A values schema like the catalogue's: some fields marked as belonging to one site, one nested. */
const valuesSchema = {
  type: 'object',
  required: ['title', 'municipalityKey', 'domain'],
  properties: {
    title: { type: 'string' },
    port: { type: 'integer', default: 8080 },
    municipalityKey: { type: 'string', 'x-ozg-site-specific': true },
    domain: { type: 'string', 'x-ozg-site-specific': true, 'x-ozg-fact': 'web.domain' },
    contactEmail: { type: 'string', 'x-ozg-site-specific': true },
    smtp: {
      type: 'object',
      properties: { host: { type: 'string', 'x-ozg-site-specific': true }, port: { type: 'integer' } },
    },
  },
};

function input(overrides: Partial<PlanCloneInput> = {}): PlanCloneInput {
  return {
    procedure: { name: 'antrag-formular', valuesSchema, secrets: ['smtpPassword', 'apiToken'] },
    from: {
      site: 'kiel',
      setup: {
        version: '1.1.0',
        values: { title: 'Anträge', municipalityKey: '01002000', domain: 'antraege.kiel.de', port: 9000, smtp: { host: 'mail.kiel.de', port: 25 } },
        secrets: { smtpPassword: { file: './secrets/kiel-smtp.txt' }, apiToken: { env: 'KIEL_API_TOKEN' } },
        userConnection: { idp: 'servicekonto-sh', roles: ['sachbearbeitung'] },
        processTransfers: [{ name: 'gewerbe', destination: 'https://xta.example/gewerbe' }],
      },
    },
    to: { site: 'husum', facts: {} },
    ...overrides,
  };
}

describe('planClone', () => {
  it('copies version, values, user connection and process transfers as the source wrote them', () => {
    const plan = planClone(input());
    expect(plan.setup.version).toBe('1.1.0');
    expect(plan.setup.values).toMatchObject({ title: 'Anträge', port: 9000, smtp: { port: 25 } });
    expect(plan.setup.userConnection).toEqual({ idp: 'servicekonto-sh', roles: ['sachbearbeitung'] });
    expect(plan.setup.processTransfers).toEqual([{ name: 'gewerbe', destination: 'https://xta.example/gewerbe' }]);
  });

  it('never copies a site-specific value: without facts each becomes a placeholder, in the same place', () => {
    const plan = planClone(input());
    expect(plan.setup.values).toEqual({
      title: 'Anträge',
      municipalityKey: '<fill in: municipalityKey>',
      domain: '<fill in: domain>',
      port: 9000,
      smtp: { host: '<fill in: smtp.host>', port: 25 },
    });
    expect(Object.keys(plan.setup.values!)).toEqual(['title', 'municipalityKey', 'domain', 'port', 'smtp']);
    expect(plan.siteValues).toEqual([
      { field: 'municipalityKey', path: ['values', 'municipalityKey'], source: 'placeholder' },
      { field: 'domain', path: ['values', 'domain'], source: 'placeholder' },
      { field: 'smtp.host', path: ['values', 'smtp', 'host'], source: 'placeholder' },
    ]);
    expect(JSON.stringify(plan)).not.toMatch(/01002000|antraege\.kiel\.de|mail\.kiel\.de/);
  });

  it("fills site-specific values from the target's facts, by name or by x-ozg-fact", () => {
    const plan = planClone(input({ to: { site: 'husum', facts: { municipalityKey: '01054056', web: { domain: 'antraege.husum.de' }, domain: 'husum.de' } } }));
    expect(plan.setup.values).toMatchObject({ municipalityKey: '01054056', domain: 'antraege.husum.de' });
    expect(plan.siteValues.filter((value) => value.source === 'fact')).toEqual([
      { field: 'municipalityKey', path: ['values', 'municipalityKey'], source: 'fact', fact: 'municipalityKey' },
      { field: 'domain', path: ['values', 'domain'], source: 'fact', fact: 'web.domain' },
    ]);
  });

  it('adds a required site-specific value the source inherits, and leaves out an optional one it does not set', () => {
    const plan = planClone(input({ from: { site: 'kiel', setup: { values: { title: 'Anträge' } } }, to: { site: 'husum', facts: { contactEmail: 'amt@husum.de' } } }));
    expect(plan.setup.values).toEqual({ title: 'Anträge', municipalityKey: '<fill in: municipalityKey>', domain: '<fill in: domain>' });
    expect(plan.setup).not.toHaveProperty('version');
  });

  it('does not add a required site-specific value the central defaults provide', () => {
    const plan = planClone(input({ from: { site: 'kiel', setup: { values: { title: 'Anträge' } } }, defaults: { values: { domain: 'ozg.example' } } }));
    expect(plan.setup.values).toEqual({ title: 'Anträge', municipalityKey: '<fill in: municipalityKey>' });
  });

  it("keeps the target's own site-specific values and secret references when it replaces the target's setup", () => {
    const existing = { values: { municipalityKey: '01054056', domain: '<fill in: domain>', contactEmail: 'amt@husum.de' }, secrets: { smtpPassword: { file: './secrets/husum.txt' } } };
    const plan = planClone(input({ to: { site: 'husum', facts: { web: { domain: 'husum.de' } }, setup: existing } }));
    expect(plan.setup.values).toMatchObject({ municipalityKey: '01054056', domain: 'husum.de', contactEmail: 'amt@husum.de' });
    expect(plan.siteValues.map((value) => `${value.field}:${value.source}`)).toEqual(['municipalityKey:kept', 'domain:fact', 'contactEmail:kept', 'smtp.host:placeholder']);
    expect(plan.setup.secrets).toEqual({ smtpPassword: { file: './secrets/husum.txt' }, apiToken: { env: 'HUSUM_API_TOKEN' } });
    expect(plan.secrets.map((secret) => `${secret.secret}:${secret.source}`)).toEqual(['smtpPassword:kept', 'apiToken:new']);
  });

  it("never copies a secret reference: the target gets variables named for itself, except what central defaults give", () => {
    const plan = planClone(input({ defaults: { secrets: { apiToken: { env: 'SHARED_API_TOKEN' } } } }));
    expect(plan.setup.secrets).toEqual({ smtpPassword: { env: 'HUSUM_SMTP_PASSWORD' } });
    expect(plan.secrets).toEqual([{ secret: 'smtpPassword', ref: { env: 'HUSUM_SMTP_PASSWORD' }, path: ['secrets', 'smtpPassword'], source: 'new' }]);
    expect(JSON.stringify(plan)).not.toMatch(/kiel-smtp|KIEL_API_TOKEN/);
  });

  it('is deterministic: planning again from its own result changes nothing', () => {
    const first = planClone(input({ to: { site: 'husum', facts: { municipalityKey: '01054056' } } }));
    const again = planClone(input({ to: { site: 'husum', facts: { municipalityKey: '01054056' }, setup: first.setup } }));
    expect(again.setup).toEqual(first.setup);
    expect(again.siteValues.map((value) => value.source)).toEqual(first.siteValues.map((value) => value.source));
  });

  it('does not change its input', () => {
    const given = input({ to: { site: 'husum', facts: { municipalityKey: '01054056' } } });
    const copy = structuredClone(given);
    planClone(given);
    expect(given).toEqual(copy);
  });
});

describe('listSiteSpecificFields', () => {
  it('finds marked fields at any depth of properties, with their fact and whether the schema requires them', () => {
    expect(listSiteSpecificFields(valuesSchema)).toEqual([
      { path: ['municipalityKey'], fact: 'municipalityKey', required: true },
      { path: ['domain'], fact: 'web.domain', required: true },
      { path: ['contactEmail'], fact: 'contactEmail', required: false },
      { path: ['smtp', 'host'], fact: 'host', required: false },
    ]);
  });
});

describe('deriveSecretVariable', () => {
  it.each([
    ['kiel', 'smtpPassword', 'KIEL_SMTP_PASSWORD'],
    ['amt-hohner-harde', 'archiveToken', 'AMT_HOHNER_HARDE_ARCHIVE_TOKEN'],
    ['1-gemeinde', 'token', 'SITE_1_GEMEINDE_TOKEN'],
  ])('%s + %s → %s', (site, secret, variable) => {
    expect(deriveSecretVariable(site, secret)).toBe(variable);
    expect(variable).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });
});
