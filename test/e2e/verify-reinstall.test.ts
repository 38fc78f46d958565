import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LEDGER_FILE, readLedgerFile } from '../../src/ledger/ledger.js';
import { resultOf, runOzg, type OzgRun } from '../helpers/run-ozg.js';
import { startSshHosts, type SshHost, type SshHosts } from '../helpers/sshd-harness.js';
import { readHostMarker, writeVmInventory } from '../helpers/vm-inventory.js';
import { createMiniProject, localInventoryYaml } from '../helpers/mini-project.js';

/**
 * Issue 13: a file changed by hand on a target is found by `ozg verify` (changed, missing,
 * extra; exit 11) and repaired by `deploy --reinstall` through the whole gate, over real sshd
 * and on the local transport. `big.bin` is large enough to travel through the target's blob
 * store, so editing it in place edits the store blob too (one inode).
 */

const BIG = Buffer.alloc(100 * 1024, 'x');
const PROCEDURE_FILES: Record<string, string | Buffer> = {
  'procedure.yaml': [
    'name: keep',
    'version: 1.0.0',
    'description: config files, one big enough for the blob store, and a hook that makes a file',
    'values: { type: object, additionalProperties: false, properties: {} }',
    'secrets: []',
    'vm:',
    '  files: vm',
    '  hooks:',
    '    install: hooks/install.sh',
    'smoke:',
    '  - name: config-present',
    '    command: "test -f config/app.conf && test -f generated.txt"',
    '',
  ].join('\n'),
  'vm/config/app.conf': 'port = 8080\n',
  'vm/config/other.conf': 'other = 1\n',
  'vm/data/big.bin': BIG,
  'vm/hooks/install.sh': '#!/bin/sh\necho made by the hook > generated.txt\n',
};

async function writeProcedure(catalogue: string): Promise<void> {
  for (const [name, content] of Object.entries(PROCEDURE_FILES)) {
    const file = path.join(catalogue, 'keep/1.0.0', name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
  }
}

/** `site/env: status` of a deploy --json result. */
function outcomes(run: OzgRun): string[] {
  return resultOf(run).sites.flatMap((s: any) => s.items.flatMap((i: any) => i.environments.map((e: any) => `${s.site}/${e.environment}: ${e.status}`)));
}

/** `site/env: state` of a verify --json result, with the paths of a drifted target. */
function verified(run: OzgRun): Record<string, unknown> {
  return Object.fromEntries(
    resultOf(run).targets.map((t: any) => [
      `${t.site}/${t.environment}`,
      t.verify.status === 'drifted' ? { changed: t.verify.changed, missing: t.verify.missing, extra: t.verify.extra } : t.verify.status,
    ]),
  );
}

/** Edits a live release by hand: in place (same inode), deleted, added. */
async function tamper(current: string): Promise<void> {
  await writeFile(path.join(current, 'config/app.conf'), 'port = 9999\n');
  await writeFile(path.join(current, 'data/big.bin'), Buffer.alloc(100 * 1024, 'y'));
  await unlink(path.join(current, 'config/other.conf'));
  await writeFile(path.join(current, 'config/added.conf'), 'added = 1\n');
}

/** Every blob of a store matches the sha256 its name carries. */
async function expectStoreIntact(root: string): Promise<void> {
  const store = path.join(root, '.ozg-store/sha256');
  const keys = await readdir(store);
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) expect(createHash('sha256').update(await readFile(path.join(store, key))).digest('hex')).toBe(key.split('-')[0]);
}

async function checkVerifyAndReinstall(cwd: string, places: { test: string; prod: string }): Promise<void> {
  const deployed = await runOzg(['deploy', '--json'], { cwd });
  expect({ code: deployed.code, stderr: deployed.stderr }).toEqual({ code: 0, stderr: '' });
  const clean = await runOzg(['verify', '--json'], { cwd });
  expect({ code: clean.code, stderr: clean.stderr }).toEqual({ code: 0, stderr: '' });
  expect(verified(clean)).toEqual({ 'alpha/test': 'clean', 'alpha/prod': 'clean' });

  await tamper(path.join(places.test, 'alpha/keep/current'));
  const drifted = await runOzg(['verify', '--json'], { cwd });
  expect(drifted.code).toBe(11);
  expect(verified(drifted)).toEqual({
    'alpha/test': { changed: ['config/app.conf', 'data/big.bin'], missing: ['config/other.conf'], extra: ['config/added.conf'] },
    'alpha/prod': 'clean',
  });
  const human = await runOzg(['verify'], { cwd });
  expect(human.code).toBe(11);
  expect(human.stdout).toContain('changed  alpha/test/keep: config/app.conf');
  expect(human.stdout).toContain('missing  alpha/test/keep: config/other.conf');
  expect(human.stdout).toContain('extra    alpha/test/keep: config/added.conf');
  expect(human.stdout).toContain('ozg deploy --reinstall');

  // a plain deploy sees the same release live and leaves it: only --reinstall repairs
  const plain = await runOzg(['deploy', '--json'], { cwd });
  expect(outcomes(plain)).toEqual(['alpha/test: unchanged', 'alpha/prod: unchanged']);

  const ledgerBefore = (await readLedgerFile(path.join(cwd, '.ozg', LEDGER_FILE))).records.length;
  const reinstalled = await runOzg(['deploy', '--reinstall', '--json'], { cwd });
  expect({ code: reinstalled.code, stderr: reinstalled.stderr }).toEqual({ code: 0, stderr: '' });
  // through the whole gate: test applied and smoke-tested, then prod
  expect(outcomes(reinstalled)).toEqual(['alpha/test: applied', 'alpha/prod: applied']);
  const records = (await readLedgerFile(path.join(cwd, '.ozg', LEDGER_FILE))).records.slice(ledgerBefore);
  expect(records.map((r) => `${r.environment}:${r.outcome}:${r.version}:${r.smoke.map((s) => `${s.name}=${s.passed}`).join(',')}`)).toEqual([
    'test:applied:1.0.0:config-present=true',
    'prod:applied:1.0.0:config-present=true',
  ]);

  const repaired = await runOzg(['verify', '--json'], { cwd });
  expect({ code: repaired.code, stderr: repaired.stderr }).toEqual({ code: 0, stderr: '' });
  expect(verified(repaired)).toEqual({ 'alpha/test': 'clean', 'alpha/prod': 'clean' });
  const current = path.join(places.test, 'alpha/keep/current');
  expect(await readFile(path.join(current, 'config/app.conf'), 'utf8')).toBe('port = 8080\n');
  // the edited store blob was not trusted: it was sent again
  expect((await readFile(path.join(current, 'data/big.bin'))).equals(BIG)).toBe(true);
  await expectStoreIntact(path.join(places.test, 'alpha'));
}

describe('ozg verify and deploy --reinstall over real sshd', () => {
  let vms: SshHosts;
  let dir: string;
  let hosts: { test: SshHost; prod: SshHost };
  let cwd: string;

  beforeAll(async () => {
    vms = await startSshHosts(2);
    dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-verify-'));
    hosts = { test: vms.hosts[0]!, prod: vms.hosts[1]! };
    await writeProcedure(path.join(dir, 'catalogue'));
    cwd = path.join(dir, 'project');
    await writeVmInventory(cwd, vms, {
      catalogues: [path.join(dir, 'catalogue')],
      dataCenters: [{ name: 'vm-dc', knownHosts: vms.knownHostsFile }],
      sites: [{ name: 'alpha', dataCenter: 'vm-dc', ...hosts, procedures: { keep: { version: '1.0.0' } } }],
    });
  }, 30_000);
  afterAll(async () => {
    await vms?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports changed, missing and extra files (exit 11), and --reinstall repairs them through the gate', async () => {
    await checkVerifyAndReinstall(cwd, { test: hosts.test.root, prod: hosts.prod.root });
  }, 60_000);

  it('a marker written before checksums were recorded: "no checksums recorded; reinstall to record them"', async () => {
    const marker = (await readHostMarker(hosts.prod, 'alpha', 'keep'))!;
    const { files: _files, ...older } = marker;
    const procedureDir = path.join(hosts.prod.root, 'alpha/keep');
    await writeFile(path.join(procedureDir, 'release.json'), JSON.stringify(older) + '\n');
    await unlink(path.join(procedureDir, 'current/.ozg-files'));
    const run = await runOzg(['verify', '-e', 'prod', '--json'], { cwd });
    expect(run.code).toBe(11);
    expect(resultOf(run).targets.map((t: any) => t.verify)).toEqual([
      { status: 'unverifiable', release: marker.release, reason: 'no checksums recorded (deployed by an older ozg); reinstall to record them' },
    ]);
    const reinstalled = await runOzg(['deploy', '--reinstall', '--json'], { cwd });
    expect(outcomes(reinstalled)).toEqual(['alpha/test: applied', 'alpha/prod: applied']);
    const after = await runOzg(['verify', '--json'], { cwd });
    expect({ code: after.code, verified: verified(after) }).toEqual({ code: 0, verified: { 'alpha/test': 'clean', 'alpha/prod': 'clean' } });
  }, 60_000);
});

describe('ozg verify and deploy --reinstall on the local transport', () => {
  let project: string;
  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('reports the edits and repairs them', async () => {
    const sitesYaml = localInventoryYaml({ catalogue: './catalogue', ledger: '.ozg', sites: [{ name: 'alpha', procedures: { keep: { version: '1.0.0' } } }] });
    const { dir } = await createMiniProject({}, { sitesYaml });
    project = dir;
    await writeProcedure(path.join(dir, 'catalogue'));
    await checkVerifyAndReinstall(dir, { test: path.join(dir, 'targets/test'), prod: path.join(dir, 'targets/prod') });
  }, 60_000);
});
