import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LEDGER_FILE, readLedgerFile } from '../../src/ledger/ledger.js';
import type { LedgerRecord } from '../../src/ledger/types.js';
import { parseJsonLines, repoRoot, resultOf, runOzg, type OzgRun } from '../helpers/run-ozg.js';
import { startSshHosts, type SshHost, type SshHosts } from '../helpers/sshd-harness.js';
import { snapshotDirs, type DirSnapshot } from '../helpers/dir-snapshot.js';
import { countSessions, listHostFiles, markLogs, readHostMarker, writeVmInventory, type VmSiteSpec } from '../helpers/vm-inventory.js';

/**
 * The real CLI against real sshd "VMs" (test/helpers/sshd-harness.ts): every host has its own
 * address, host key and /srv/ozg-vm (host.root here), so a file a script writes shows up in
 * exactly one host's directory.
 */

const catalogues = [path.join(repoRoot, 'test/fixtures/e2e/gate/templates'), path.join(repoRoot, 'test/fixtures/e2e/ssh/templates')];

let vms: SshHosts;
let dir: string;
let deployUid: number;

beforeAll(async () => {
  // DEBUG1: the bastion logs the forwarding (direct-tcpip) requests it serves
  vms = await startSshHosts(11, { logLevel: 'DEBUG1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-ssh-'));
  deployUid = (await stat(vms.hosts[0].root)).uid;
}, 30_000);
afterAll(async () => {
  await vms?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function ozg(cwd: string, ...args: string[]): Promise<OzgRun> {
  return runOzg(args, { cwd });
}

/** `site/env: status` for every environment of every item of a deploy --json result. */
function outcomes(run: OzgRun): string[] {
  return resultOf(run).sites.flatMap((s: any) => s.items.flatMap((i: any) => i.environments.map((e: any) => `${s.site}/${e.environment}/${i.procedure}: ${e.status}`)));
}

async function ledger(cwd: string): Promise<LedgerRecord[]> {
  const { records, ignored } = await readLedgerFile(path.join(cwd, '.ozg', LEDGER_FILE));
  expect(ignored).toBe(0);
  return records;
}

describe('deploying to VMs over SSH', () => {
  let cwd: string;
  let alpha: { test: SshHost; prod: SshHost };
  let beta: { test: SshHost; prod: SshHost };
  const sites = (probe: Record<string, unknown> = {}): VmSiteSpec[] => [
    { name: 'alpha', dataCenter: 'vm-dc', ...alpha, procedures: { probe: { version: '1.0.0', values: probe } } },
    { name: 'beta', dataCenter: 'vm-dc', ...beta, procedures: { probe: { version: '1.0.0' } } },
  ];
  const write = (siteList: VmSiteSpec[]) =>
    writeVmInventory(cwd, vms, { catalogues, dataCenters: [{ name: 'vm-dc', knownHosts: vms.knownHostsFile, sudo: { prod: true } }], sites: siteList });
  let firstRelease: Record<string, any>;
  /** the checkout and the four hosts right after both sites were deployed once */
  let deployed: DirSnapshot;
  /** that deploy's output and the hosts' sshd log lines it caused */
  let firstDeploy: { run: OzgRun; logs: string[] };

  // One deploy makes the state every test starts from (a fresh copy each); the first test checks that deploy itself.
  beforeAll(async () => {
    cwd = path.join(dir, 'two-sites');
    const [a, b, c, d] = vms.hosts;
    alpha = { test: a, prod: b };
    beta = { test: c, prod: d };
    await write(sites());
    const logs = await markLogs([alpha.test, alpha.prod, beta.test, beta.prod]);
    const run = await ozg(cwd, 'deploy', '--json');
    firstDeploy = { run, logs: await logs() };
    firstRelease = (await readHostMarker(alpha.prod, 'alpha', 'probe'))!;
    deployed = await snapshotDirs([cwd, ...[alpha.test, alpha.prod, beta.test, beta.prod].map((h) => h.root)]);
  });
  afterAll(() => deployed?.discard());
  const startDeployed = () => deployed.restore();

  it('deploys two sites test → prod, each onto its own hosts, over one connection per target', async () => {
    await startDeployed();
    const { run } = firstDeploy;
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(outcomes(run).sort()).toEqual([
      'alpha/prod/probe: applied',
      'alpha/test/probe: applied',
      'beta/prod/probe: applied',
      'beta/test/probe: applied',
    ]);

    for (const [site, hosts] of [['alpha', alpha], ['beta', beta]] as const) {
      for (const [environment, host] of Object.entries(hosts)) {
        const marker = await readHostMarker(host, site, 'probe');
        expect(marker).toMatchObject({ procedure: 'probe', version: '1.0.0' });
        const procedureDir = path.join(host.root, site, 'probe');
        expect(await readlink(path.join(procedureDir, 'current'))).toBe(`releases/${marker!.release}`);
        const release = path.join(procedureDir, 'releases', marker!.release);
        expect(JSON.parse(await readFile(path.join(release, 'config/probe.json'), 'utf8'))).toEqual({ site, environment, version: '1.0.0', message: 'hello' });
        // the activate hook ran on the host, in the release directory
        expect(await readFile(path.join(release, 'activated'), 'utf8')).toBe('activated 1.0.0\n');
        // prod runs through sudo: root owns what it wrote; test runs as the deploy user
        expect((await stat(path.join(release, 'activated'))).uid).toBe(environment === 'prod' ? 0 : deployUid);
        // each host holds its own site only
        expect((await listHostFiles(host)).filter((f) => !f.includes('/'))).toEqual([site]);
      }
    }

    const records = await ledger(cwd);
    expect(records.map((r) => `${r.site}/${r.environment}:${r.outcome}:${r.version}`).sort()).toEqual([
      'alpha/prod:applied:1.0.0',
      'alpha/test:applied:1.0.0',
      'beta/prod:applied:1.0.0',
      'beta/test:applied:1.0.0',
    ]);
    // one SSH connection per target for the whole run, and a count of commands, so a new round
    // trip shows as a number here, not as a slower benchmark: the marker read, the apply (one
    // script: unpack, hooks, switch, marker, prune) and its one smoke check (probe 1.0.0)
    for (const log of firstDeploy.logs) expect(countSessions(log)).toEqual({ connections: 1, commands: 3 });
  });

  it('status --json reads the live versions from the hosts over SSH', async () => {
    await startDeployed();
    const logs = await markLogs([alpha.test, alpha.prod, beta.test, beta.prod]);
    const run = await ozg(cwd, 'status', '--json');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    const targets = resultOf(run).targets;
    expect(targets.map((t: any) => `${t.site}/${t.environment}`)).toEqual(['alpha/test', 'alpha/prod', 'beta/test', 'beta/prod']);
    for (const t of targets) {
      expect(t).toMatchObject({ procedure: 'probe', desired: '1.0.0', live: '1.0.0', recorded: '1.0.0', upToDate: true, drift: false, error: null });
    }
    // the live column came from each host: one connection reading one marker
    for (const log of await logs()) expect(countSessions(log)).toEqual({ connections: 1, commands: 1 });
  });

  it('a rerun with nothing to do changes nothing: one connection and one command per target', async () => {
    await startDeployed();
    const before = await ledger(cwd);
    const logs = await markLogs([alpha.test, alpha.prod, beta.test, beta.prod]);
    const run = await ozg(cwd, 'deploy', '--json');
    expect(run.code).toBe(0);
    expect(outcomes(run).every((o) => o.endsWith(': unchanged'))).toBe(true);
    expect(outcomes(run)).toHaveLength(4);
    expect(await ledger(cwd)).toEqual(before);
    for (const log of await logs()) expect(countSessions(log)).toEqual({ connections: 1, commands: 1 });
  });

  it('rolls prod back over SSH (through sudo) to the release before', async () => {
    await startDeployed();
    await write(sites({ message: 'second' }));
    const upgrade = await ozg(cwd, 'deploy', 'alpha', '--json');
    expect(upgrade.code).toBe(0);
    expect(outcomes(upgrade)).toEqual(['alpha/test/probe: applied', 'alpha/prod/probe: applied']);
    const second = (await readHostMarker(alpha.prod, 'alpha', 'probe'))!;
    const testMarker = await readHostMarker(alpha.test, 'alpha', 'probe');
    expect(second).toMatchObject({ version: '1.0.0', previous: { release: firstRelease.release, hash: firstRelease.hash } });
    expect(second.hash).not.toBe(firstRelease.hash);

    const run = await ozg(cwd, 'rollback', 'alpha', '-p', 'probe', '-e', 'prod');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(run.stdout).toContain(`alpha/prod/probe: rolled back to 1.0.0 (release ${firstRelease.release})`);
    const marker = (await readHostMarker(alpha.prod, 'alpha', 'probe'))!;
    expect(marker).toMatchObject({ version: '1.0.0', release: firstRelease.release, hash: firstRelease.hash, previous: { release: second.release } });
    expect(await readlink(path.join(alpha.prod.root, 'alpha/probe/current'))).toBe(`releases/${firstRelease.release}`);
    // the message the old release was rendered with is live again
    expect(JSON.parse(await readFile(path.join(alpha.prod.root, 'alpha/probe/current/config/probe.json'), 'utf8')).message).toBe('hello');
    // test stays on the new release
    expect(await readHostMarker(alpha.test, 'alpha', 'probe')).toEqual(testMarker);

    const last = (await ledger(cwd)).at(-1);
    expect(last).toMatchObject({ site: 'alpha', environment: 'prod', procedure: 'probe', outcome: 'rolled-back', release: firstRelease.release, hash: firstRelease.hash });
    // the restored release was smoke-tested over SSH, and the bundle rolled back from is held
    expect(last!.smoke.length).toBeGreaterThan(0);
    expect(last!.smoke.every((s) => s.passed)).toBe(true);
    expect(last!.hold).toMatchObject({ version: '1.0.0', hash: second.hash });

    // --to a release the host does not keep: the kept ones are listed, read from the host
    const unknown = await ozg(cwd, 'rollback', 'alpha', '-p', 'probe', '-e', 'prod', '--to', '20990101T000000Z-deadbeef');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`  ${second.release}  1.0.0  `);
    expect(unknown.stderr).toContain(`  ${firstRelease.release}  1.0.0  `);
    expect(unknown.stderr.indexOf(second.release)).toBeLessThan(unknown.stderr.indexOf(`  ${firstRelease.release}`));
  });

  it('passes a hostile site value to the host literally: no command runs, in a hook (| shell) or a config file (| json)', async () => {
    await startDeployed();
    const canary = `/tmp/pwned-${randomBytes(6).toString('hex')}`;
    const value = `$(touch ${canary}); 'x" \\n\n\`touch ${canary}\` ü`;
    const withEcho = sites();
    withEcho[1].procedures.echo = { version: '1.0.0', values: { text: value } };
    await write(withEcho);
    const run = await ozg(cwd, 'deploy', 'beta', '-p', 'echo', '--json');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(outcomes(run)).toEqual(['beta/test/echo: applied', 'beta/prod/echo: applied']);
    // test runs as the deploy user, prod through sudo: both shells got the value as one word
    for (const host of [beta.test, beta.prod]) {
      const current = path.join(host.root, 'beta/echo/current');
      expect(await readFile(path.join(current, 'value.txt'), 'utf8')).toBe(value);
      expect(JSON.parse(await readFile(path.join(current, 'config/value.json'), 'utf8'))).toEqual({ text: value });
    }
    // /tmp is shared by this machine and every simulated VM
    expect(existsSync(canary)).toBe(false);
  });
});

/** `SHA256:…` as ssh prints it, computed here rather than by the code under test. */
function fingerprint(host: SshHost): string {
  return 'SHA256:' + createHash('sha256').update(host.hostKey.blob).digest('base64').replace(/=+$/, '');
}

describe('host keys', () => {
  it('refuses an unknown key (exit 6, nothing written), records it with --accept-new-host-keys, and never accepts a changed one', async () => {
    const cwd = path.join(dir, 'host-keys');
    await mkdir(cwd);
    const [k1test, k1prod, k2test, k2prod] = vms.hosts.slice(4, 8);
    const knownHosts = await vms.writeKnownHosts(path.join(cwd, 'known_hosts'), { omit: [k1test] });
    const write = (k1Message: string) =>
      writeVmInventory(cwd, vms, {
        catalogues,
        dataCenters: [{ name: 'vm-dc', knownHosts, sudo: { test: true, prod: true } }],
        sites: [
          { name: 'k1', dataCenter: 'vm-dc', test: k1test, prod: k1prod, procedures: { probe: { version: '1.0.0', values: { message: k1Message } } } },
          { name: 'k2', dataCenter: 'vm-dc', test: k2test, prod: k2prod, procedures: { probe: { version: '1.0.0' } } },
        ],
      });
    await write('first');

    // unknown: k1 fails before anything runs on its hosts, k2 deploys
    const before = await readFile(knownHosts, 'utf8');
    const refused = await ozg(cwd, 'deploy');
    expect(refused.code).toBe(6);
    expect(refused.stdout).toContain(`unknown host key for ${k1test.address}:${k1test.port} (ssh-ed25519 ${fingerprint(k1test)})`);
    expect(refused.stdout).toContain(`rerun with --accept-new-host-keys to record it in ${knownHosts}`);
    // the error's hint reaches the summary line of the site, and the --json result and event
    const hint = 'compare with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the host itself';
    expect(refused.stdout).toContain(`      hint: ${hint}`);
    expect(refused.stderr).toContain(`    hint: ${hint}`);
    const refusedJson = await ozg(cwd, 'deploy', '--json', 'k1');
    expect(refusedJson.code).toBe(6);
    expect(resultOf(refusedJson).sites[0].items[0].environments[0]).toMatchObject({ environment: 'test', status: 'apply-failed', hint });
    expect(parseJsonLines(refusedJson.stdout).find((e) => e.type === 'site-finished')).toMatchObject({ site: 'k1', outcome: 'failed', hint });
    expect(refused.stdout).toMatch(/k2 +probe 1\.0\.0 +test: applied +prod: applied/);
    expect(await listHostFiles(k1test)).toEqual([]);
    expect(await listHostFiles(k1prod)).toEqual([]);
    expect(await readFile(knownHosts, 'utf8')).toBe(before);
    expect((await ledger(cwd)).filter((r) => r.site === 'k1' && r.outcome === 'applied')).toEqual([]);

    // accepted: recorded as ssh would, then deployed
    // plain lines, whatever this machine's ssh_config says (hashing: ssh-host-key-impostor.test.ts)
    const accepted = await runOzg(['deploy', '--accept-new-host-keys', '--json'], { cwd, env: { OZG_HASH_KNOWN_HOSTS: 'no' } });
    expect(accepted.code).toBe(0);
    expect(outcomes(accepted)).toEqual(['k1/test/probe: applied', 'k1/prod/probe: applied', 'k2/test/probe: unchanged', 'k2/prod/probe: unchanged']);
    expect(await readFile(knownHosts, 'utf8')).toBe(`${before}[${k1test.address}]:${k1test.port} ssh-ed25519 ${k1test.hostKey.base64}\n`);
    const k1Markers = [await readHostMarker(k1test, 'k1', 'probe'), await readHostMarker(k1prod, 'k1', 'probe')];
    expect(k1Markers).toEqual([expect.objectContaining({ version: '1.0.0' }), expect.objectContaining({ version: '1.0.0' })]);

    // changed: refused even with the flag; k1 would be upgraded, but neither of its hosts is touched
    await vms.writeKnownHosts(knownHosts, { wrongKeyFor: [k1prod] });
    const pinned = await readFile(knownHosts, 'utf8');
    await write('second');
    const k1Files = [await listHostFiles(k1test), await listHostFiles(k1prod)];
    const changed = await ozg(cwd, 'deploy', '--accept-new-host-keys', '--json');
    expect(changed.code).toBe(6);
    expect(outcomes(changed)).toEqual(['k1/prod/probe: apply-failed', 'k2/test/probe: unchanged', 'k2/prod/probe: unchanged']);
    const error = resultOf(changed).sites[0].items[0].environments[0].error;
    expect(error).toContain(`HOST KEY CHANGED for ${k1prod.address}:${k1prod.port}`);
    expect(error).toContain(`the host now presents ssh-ed25519 ${fingerprint(k1prod)}`);
    expect([await readHostMarker(k1test, 'k1', 'probe'), await readHostMarker(k1prod, 'k1', 'probe')]).toEqual(k1Markers);
    expect([await listHostFiles(k1test), await listHostFiles(k1prod)]).toEqual(k1Files);
    expect(await readFile(knownHosts, 'utf8')).toBe(pinned);
  });
});

describe('a bastion in front of the VMs', () => {
  it('reaches every host of the data center through the bastion, which forwards the connections', async () => {
    const cwd = path.join(dir, 'bastion');
    const [bastion, test, prod] = vms.hosts.slice(8, 11);
    const bastionLog = await markLogs([bastion]);
    await writeVmInventory(cwd, vms, {
      catalogues,
      dataCenters: [{ name: 'jump-dc', knownHosts: vms.knownHostsFile, bastion, sudo: { prod: true } }],
      sites: [{ name: 'gamma', dataCenter: 'jump-dc', test, prod, procedures: { probe: { version: '1.0.0' } } }],
    });
    const run = await ozg(cwd, 'deploy', '--json');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(outcomes(run)).toEqual(['gamma/test/probe: applied', 'gamma/prod/probe: applied']);
    expect(await readHostMarker(test, 'gamma', 'probe')).toMatchObject({ version: '1.0.0' });
    expect(await readHostMarker(prod, 'gamma', 'probe')).toMatchObject({ version: '1.0.0' });

    const [log] = await bastionLog();
    for (const host of [test, prod]) {
      expect(log).toContain(`server_request_direct_tcpip: originator 127.0.0.1 port 0, target ${host.address} port ${host.port}`);
    }
    // one bastion connection per target, and nothing run or written on the bastion itself
    expect(countSessions(log)).toEqual({ connections: 2, commands: 0 });
    expect(await listHostFiles(bastion)).toEqual([]);
  });
});
