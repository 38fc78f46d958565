import { parse } from 'yaml';
import { writeSetup } from '../../../src/clone/edit-inventory.js';
import type { WriteSetupOptions } from '../../../src/clone/edit-inventory.js';
import { UsageError } from '../../../src/errors.js';

/** An inventory as people write them: comments everywhere, flow and block styles, quoting, anchors, blank lines. */
const INVENTORY = `# sites.yaml — hand-written
catalogues: [ ./templates ]      # trailing comment
ledger: '.ozg'

defaults:
  procedures:
    antrag-formular: {version: "^1.0.0", values: {port: 8080}}

x-shared: &local
  dataCenter: local-dc

dataCenters:
  local-dc:
    kind: local
    environments:
      test: { root: "./targets/test" }
      prod: {root: './targets/prod'}   # prod


  vm-dc:      # two blank lines above
    kind: vm
    environments:
      test:
        ssh: { user: deploy }
sites:
  # the source
  kiel:
    dataCenter: vm-dc
    hosts: { test: { host: 10.0.0.5 } }
    procedures:
      antrag-formular:
        version: 1.1.0   # pinned
        values:
          title: "Kiel: Anträge"
          municipalityKey: '01002000'
          formIds: [gewerbeanmeldung, hundesteuer]
          notes: |
            first line
            second line
        secrets:
          smtpPassword: { file: ./secrets/kiel-smtp.txt }
        userConnection: { idp: servicekonto-sh, roles: [sachbearbeitung] }
        processTransfers:
          - name: gewerbe
            destination: "https://xta.example/gewerbe"
  husum:       # right after the source
    <<: *local
    procedures: {}   # none yet

  # a site with other procedures
  flensburg:
    dataCenter: local-dc
    labels: {state: SH}
    procedures:
      dms-connector:
        values: { archiveUrl: "https://dms.flensburg.example" }   # own archive
        # more to come

      # antrag-formular: later
  sylt: { dataCenter: local-dc, labels: { island: "yes" } }
  heide:
    dataCenter: local-dc
    procedures:
# end of file
`;

const SETUP = {
  version: '1.1.0',
  values: { title: 'Kiel: Anträge', municipalityKey: '<fill in: municipalityKey>', formIds: ['gewerbeanmeldung', 'hundesteuer'], notes: 'first line\nsecond line\n' },
  secrets: { smtpPassword: { env: 'HUSUM_SMTP_PASSWORD' } },
  userConnection: { idp: 'servicekonto-sh', roles: ['sachbearbeitung'] },
  processTransfers: [{ name: 'gewerbe', destination: 'https://xta.example/gewerbe' }],
};

function write(text: string, options: Partial<WriteSetupOptions> & { site: string }) {
  return writeSetup(text, { file: 'sites.yaml', procedure: 'antrag-formular', setup: SETUP, styleFrom: ['sites', 'kiel', 'procedures', 'antrag-formular'], ...options });
}

/** Everything outside before[start, end) is byte for byte the same in `after`. */
function expectUnchangedOutside(before: string, after: string, start: number, end: number): void {
  expect(after.slice(0, start)).toBe(before.slice(0, start));
  expect(after.slice(after.length - (before.length - end))).toBe(before.slice(end));
}

/** Everything outside `region` (a unique piece of `before`) is byte for byte the same in `after`. */
function expectOnlyChanged(before: string, after: string, region: string): void {
  const at = before.indexOf(region);
  expect(at).toBeGreaterThanOrEqual(0);
  expect(before.indexOf(region, at + 1)).toBe(-1);
  expectUnchangedOutside(before, after, at, at + region.length);
}

function setupOf(text: string, site: string, procedure = 'antrag-formular'): unknown {
  return (parse(text, { merge: true }) as any).sites[site].procedures[procedure];
}

describe('writeSetup', () => {
  it('replaces an empty `procedures: {}` with the setup and leaves every other byte alone', () => {
    const { text, changed } = write(INVENTORY, { site: 'husum' });
    expect(changed).toBe(true);
    expectOnlyChanged(INVENTORY, text, '    procedures: {}   # none yet');
    expect(setupOf(text, 'husum')).toEqual(SETUP);
    // the rest of the data is untouched too, merge key included
    const before = parse(INVENTORY, { merge: true }) as any;
    const after = parse(text, { merge: true }) as any;
    delete after.sites.husum.procedures;
    delete before.sites.husum.procedures;
    expect(after).toEqual(before);
  });

  it("formats the new setup like the source's: flow where it used flow, its quoting, block scalars", () => {
    const { text } = write(INVENTORY, { site: 'husum' });
    const block = text.slice(text.indexOf('    <<: *local\n') + '    <<: *local\n'.length, text.indexOf('\n\n  # a site with other procedures'));
    expect(block).toBe(
      [
        '    procedures:',
        '      antrag-formular:',
        '        version: 1.1.0',
        '        values:',
        '          title: "Kiel: Anträge"',
        '          municipalityKey: "<fill in: municipalityKey>"',
        '          formIds: [ gewerbeanmeldung, hundesteuer ]',
        '          notes: |',
        '            first line',
        '            second line',
        '        secrets:',
        '          smtpPassword: { env: HUSUM_SMTP_PASSWORD }',
        '        userConnection: { idp: servicekonto-sh, roles: [ sachbearbeitung ] }',
        '        processTransfers:',
        '          - name: gewerbe',
        '            destination: "https://xta.example/gewerbe"',
      ].join('\n'),
    );
  });

  it('adds a setup after the last one of a block `procedures:`, before the comments that follow it', () => {
    const { text } = write(INVENTORY, { site: 'flensburg' });
    const at = INVENTORY.indexOf('        # more to come') + '        # more to come'.length;
    expectUnchangedOutside(INVENTORY, text, at, at);
    expect(text.slice(at)).toMatch(/^\n      antrag-formular:\n        version: 1\.1\.0\n[^]*processTransfers:\n.*\n.*\n\n      # antrag-formular: later\n  sylt:/);
    expect(setupOf(text, 'flensburg')).toEqual(SETUP);
    expect(setupOf(text, 'flensburg', 'dms-connector')).toEqual({ values: { archiveUrl: 'https://dms.flensburg.example' } });
  });

  it('adds `procedures` to a site written as a flow mapping, in flow style', () => {
    const { text } = write(INVENTORY, { site: 'sylt' });
    expectOnlyChanged(INVENTORY, text, '  sylt: { dataCenter: local-dc, labels: { island: "yes" } }');
    expect(text).toContain('  sylt: { dataCenter: local-dc, labels: { island: "yes" }, procedures: { antrag-formular: { version: 1.1.0, values: { title: "Kiel: Anträge",');
    expect(text).toContain('notes: "first line\\nsecond line\\n"');
    expect(setupOf(text, 'sylt')).toEqual(SETUP);
  });

  it('fills an empty `procedures:` at the end of the file, up to its last comment', () => {
    const { text } = write(INVENTORY, { site: 'heide' });
    expectOnlyChanged(INVENTORY, text, 'procedures:\n# end of file');
    expect(text.endsWith('            destination: "https://xta.example/gewerbe"\n# end of file\n')).toBe(true);
    expect(setupOf(text, 'heide')).toEqual(SETUP);
  });

  it('adds `procedures` to a block site that has none, also without a final line break', () => {
    const inventory = 'sites:\n    a:\n        dataCenter: x   # four spaces per level\n    b:\n        dataCenter: x';
    const { text } = write(inventory, { site: 'b', setup: { values: { title: 'T' } }, styleFrom: undefined });
    expect(text).toBe(`${inventory}\n        procedures:\n            antrag-formular:\n                values:\n                    title: T`);
  });

  it('replaces an existing setup from its key to the end of its last line, keeping the comments around it', () => {
    const inventory = [
      'sites:',
      '  husum:',
      '    dataCenter: local-dc',
      '    procedures:',
      '      # chosen in 2024',
      '      antrag-formular:   # old',
      '        version: 1.0.0',
      '        values:',
      '          title: Alt',
      '          municipalityKey: "01054056"   # keep me? no: inside the setup',
      '      dms-connector: { values: { archiveUrl: "https://dms.husum.example" } }',
      '',
      '  # next',
      '  kiel: { dataCenter: local-dc }',
      '',
    ].join('\n');
    const { text } = write(inventory, { site: 'husum', styleFrom: undefined });
    const from = inventory.indexOf('antrag-formular:   # old');
    const to = inventory.indexOf('   # keep me? no: inside the setup') + '   # keep me? no: inside the setup'.length;
    expectOnlyChanged(inventory, text, inventory.slice(from, to));
    expect(setupOf(text, 'husum')).toEqual(SETUP);
    expect(setupOf(text, 'husum', 'dms-connector')).toEqual({ values: { archiveUrl: 'https://dms.husum.example' } });
  });

  it('changes nothing when the inventory already holds exactly this setup, however it is formatted', () => {
    const first = write(INVENTORY, { site: 'husum' }).text;
    const reformatted = first.replace('formIds: [ gewerbeanmeldung, hundesteuer ]', 'formIds:\n            - gewerbeanmeldung\n            - hundesteuer');
    expect(write(first, { site: 'husum' })).toEqual({ text: first, changed: false });
    expect(write(reformatted, { site: 'husum' })).toEqual({ text: reformatted, changed: false });
  });

  it('keeps CRLF line breaks', () => {
    const inventory = 'sites:\r\n  a:\r\n    dataCenter: x\r\n  b:\r\n    dataCenter: x\r\n';
    const { text } = write(inventory, { site: 'a', setup: { values: { title: 'T' } }, styleFrom: undefined });
    expect(text).toBe('sites:\r\n  a:\r\n    dataCenter: x\r\n    procedures:\r\n      antrag-formular:\r\n        values:\r\n          title: T\r\n  b:\r\n    dataCenter: x\r\n');
  });

  it('refuses to edit procedures a site gets through a merge key or an alias: other sites share them', () => {
    const merged = 'x: &base\n  dataCenter: x\n  procedures: { dms-connector: {} }\nsites:\n  a:\n    <<: *base\n';
    expect(() => write(merged, { site: 'a' })).toThrow(UsageError);
    expect(() => write(merged, { site: 'a' })).toThrow(/sites\.a\.procedures comes through a YAML alias or merge key/);
    const aliased = 'x: &procs { dms-connector: {} }\nsites:\n  a:\n    dataCenter: x\n    procedures: *procs\n';
    expect(() => write(aliased, { site: 'a' })).toThrow(/sites\.a\.procedures comes through a YAML alias/);
    // a merge key that brings no procedures is no obstacle
    const shared = 'x: &base\n  dataCenter: x\nsites:\n  a:\n    <<: *base\n';
    expect(setupOf(write(shared, { site: 'a', styleFrom: undefined }).text, 'a')).toEqual(SETUP);
  });

  it('refuses to replace a setup that defines an anchor used elsewhere', () => {
    const inventory = 'sites:\n  a:\n    dataCenter: x\n    procedures:\n      antrag-formular: &shared\n        values: { title: A }\n  b:\n    dataCenter: x\n    procedures:\n      antrag-formular: *shared\n';
    expect(() => write(inventory, { site: 'a' })).toThrow(/defines &shared/);
    // replacing the site that only uses it is fine
    const { text } = write(inventory, { site: 'b', styleFrom: undefined });
    expect(setupOf(text, 'a')).toEqual({ values: { title: 'A' } });
    expect(setupOf(text, 'b')).toEqual(SETUP);
  });
});
