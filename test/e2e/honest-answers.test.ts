import path from 'node:path';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { writeProbeInventory } from '../helpers/probe-inventory.js';
import { writeUnreachableVmInventory } from '../helpers/unreachable-vm-inventory.js';
import { copyExampleToTemp, copyToTemp, removeTemp, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import { formatLedgerLine } from '../../src/ledger/ledger-line.js';
import { LEDGER_FILE } from '../../src/ledger/ledger.js';
import { makeLedgerRecord } from '../helpers/ledger-records.js';

/** plan and status tell what they could not see, and status can gate CI. */

let dir: string;

beforeAll(async () => {
  dir = await copyExampleToTemp();
  await writeUnreachableVmInventory(dir);
});
afterAll(async () => {
  if (dir) await removeTemp(dir);
});

describe('plan with a target it cannot read', () => {
  it('says how many targets could not be read and never claims there are no changes', async () => {
    const run = await runOzg(['plan', '-i', 'vm.yaml'], { cwd: dir });
    expect(run.code).toBe(6);
    expect(run.stdout + run.stderr).not.toContain('No changes');
    expect(run.stdout).toContain('1 target(s) could not be read: what a deploy would change there is unknown.');
    const json = await runOzg(['plan', '-i', 'vm.yaml', '--json'], { cwd: dir });
    expect(resultOf(json)).toMatchObject({ pending: 0, unknown: 1 });
  });
});

describe('status', () => {
  it('shows the recorded release of a target it cannot reach', async () => {
    await mkdir(path.join(dir, '.ozg-vm'), { recursive: true });
    const record = makeLedgerRecord({ site: 'kiel', environment: 'test', procedure: 'antrag-formular', version: '1.0.0' });
    await writeFile(path.join(dir, '.ozg-vm', LEDGER_FILE), formatLedgerLine(record));
    const run = await runOzg(['status', '-i', 'vm.yaml'], { cwd: dir });
    expect(run.code).toBe(6);
    const [header, row] = run.stdout.trim().split('\n');
    expect(row!.slice(header!.indexOf('RECORDED')).split(/\s+/)[0]).toBe('1.0.0');
    expect(resultOf(await runOzg(['status', '-i', 'vm.yaml', '--json'], { cwd: dir })).targets[0]).toMatchObject({ recorded: '1.0.0', live: null });
  });

  it('with --exit-code exits 10 when a deploy would change a target, 11 on drift, 0 when up to date; without it 0', async () => {
    const cwd = await copyExampleToTemp();
    try {
      expect((await runOzg(['status'], { cwd })).code).toBe(0);
      expect((await runOzg(['status', '--exit-code'], { cwd })).code).toBe(10);
      const deployed = await runOzg(['deploy'], { cwd });
      expect(deployed.code).toBe(0);
      expect((await runOzg(['status', '--exit-code'], { cwd })).code).toBe(0);
      // a release recorded in the ledger that is not the live one: drift
      const status = resultOf(await runOzg(['status', '--json'], { cwd }));
      const first = status.targets[0];
      const { appendFile } = await import('node:fs/promises');
      await appendFile(
        path.join(cwd, '.ozg', LEDGER_FILE),
        formatLedgerLine(makeLedgerRecord({ id: 'drift-1', time: '2099-01-01T00:00:00.000Z', site: first.site, environment: first.environment, procedure: first.procedure, version: first.live })),
      );
      const drift = await runOzg(['status', '--exit-code'], { cwd });
      expect({ code: drift.code, stdout: drift.stdout }).toEqual({ code: 11, stdout: expect.stringContaining('DRIFT') });
      expect((await runOzg(['status'], { cwd })).code).toBe(0);
    } finally {
      await removeTemp(cwd);
    }
  });
});

describe('ozg test -e prod', () => {
  it('exits 5, which the README documents for `ozg test` in any environment, when a check of live prod fails', async () => {
    const cwd = await copyToTemp([{ from: path.join(repoRoot, 'test/fixtures/e2e/gate') }]);
    try {
      await writeProbeInventory(cwd, { version: '1.0.0', sites: ['kiel'] });
      expect((await runOzg(['deploy'], { cwd })).code).toBe(0);
      await rm(path.join(cwd, 'targets/prod/kiel/probe/current/config/probe.json'));
      const run = await runOzg(['test', '-e', 'prod'], { cwd });
      expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 5, stdout: expect.stringMatching(/kiel\s+prod\s+probe\s+1\.0\.0\s+failed/) });
      expect((await runOzg(['test', '-e', 'test'], { cwd })).code).toBe(0);
    } finally {
      await removeTemp(cwd);
    }
  });
});

describe('validate checks the files data centers name', () => {
  it('a missing kubeconfig and SSH identity file are problems at their field in sites.yaml (exit 3), where plan would fail later', async () => {
    const cwd = await copyToTemp([
      { from: path.join(repoRoot, 'templates'), to: 'templates' },
      { from: path.join(repoRoot, 'examples'), to: 'examples' },
    ]);
    try {
      const setup = [
        '    procedures:',
        '      antrag-formular:',
        '        version: "^1.0.0"',
        '        values: { title: "T", municipalityKey: "01002000", domain: antraege.example.de, contactEmail: a@example.de }',
        '        secrets: { smtpPassword: { file: ./examples/secrets/kiel-smtp.txt } }',
      ];
      await writeFile(
        path.join(cwd, 'sites.yaml'),
        [
          'dataCenters:',
          '  rz-nord:',
          '    kind: kubernetes',
          '    environments:',
          '      test: { kubeconfig: ./kube/missing.yaml, namespace: "ozg-{site}-test" }',
          '  dataport:',
          '    kind: vm',
          '    environments:',
          '      test: { deployRoot: /opt/ozg, ssh: { user: ozg, identityFile: ./keys/missing, knownHosts: ./known_hosts } }',
          'sites:',
          '  kiel:',
          '    dataCenter: rz-nord',
          ...setup,
          '  husum:',
          '    dataCenter: dataport',
          '    hosts: { test: { host: 127.0.0.1, port: 1 } }',
          ...setup,
        ].join('\n') + '\n',
      );
      const run = await runOzg(['validate'], { cwd });
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(`sites.yaml:5:27  dataCenters.rz-nord.environments.test.kubeconfig  kubeconfig ${path.join(cwd, 'kube/missing.yaml')} does not exist`);
      expect(run.stderr).toContain(`dataCenters.dataport.environments.test.ssh.identityFile  SSH identity file ${path.join(cwd, 'keys/missing')} does not exist`);
      expect(run.stderr).toMatch(/sites\.yaml:9:69  dataCenters\.dataport\.environments\.test\.ssh\.identityFile/);
      // plan meets the missing kubeconfig at the file: its hint names the field validate reports
      const plan = await runOzg(['plan', 'kiel'], { cwd });
      expect(plan.code).toBe(3);
      expect(plan.stderr).toContain('hint: it is named by dataCenters.rz-nord.environments.test.kubeconfig in the inventory; `ozg validate` reports it there');
    } finally {
      await removeTemp(cwd);
    }
  });
});

describe('a mistyped site or procedure', () => {
  it('history -s / -p suggests the name instead of saying "No records yet"; a known name without records still says so', async () => {
    const typo = await runOzg(['history', '-s', 'kiell'], { cwd: dir });
    expect({ code: typo.code, stdout: typo.stdout }).toEqual({ code: 2, stdout: '' });
    expect(typo.stderr).toContain('error: unknown site "kiell": neither the inventory nor the ledger has it; did you mean "kiel"?');
    const procedure = await runOzg(['history', '-p', 'dms-conector'], { cwd: dir });
    expect(procedure.code).toBe(2);
    expect(procedure.stderr).toContain('did you mean "dms-connector"?');
    const none = await runOzg(['history', '-s', 'luebeck'], { cwd: dir });
    expect({ code: none.code, stdout: none.stdout }).toEqual({ code: 0, stdout: 'No records yet.\n' });
  });

  it('-p of deploy, plan and status suggests the procedure', async () => {
    for (const command of ['deploy', 'plan', 'status']) {
      const run = await runOzg([command, '-p', 'antrag-fomular'], { cwd: dir });
      expect({ command, code: run.code, stderr: run.stderr }).toEqual({ command, code: 2, stderr: expect.stringContaining('unknown procedure "antrag-fomular"; did you mean "antrag-formular"?') });
    }
  });
});
