import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LEDGER_FILE, readLedgerFile } from '../../src/ledger/ledger.js';
import type { LedgerRecord } from '../../src/ledger/types.js';
import { repoRoot, resultOf, runOzg, spawnOzg, type OzgRun } from '../helpers/run-ozg.js';
import { startSshHosts, type SshHost, type SshHosts } from '../helpers/sshd-harness.js';
import { countSessions, listHostFiles, markLogs, readHostMarker, writeVmInventory } from '../helpers/vm-inventory.js';

/** Hosts that are down or die mid-deploy, and many hosts at once, through the real CLI and real sshd "VMs". */

const catalogues = [path.join(repoRoot, 'test/fixtures/e2e/gate/templates')];

let vms: SshHosts;
let dir: string;

beforeAll(async () => {
  vms = await startSshHosts(26);
  dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-ssh-faults-'));
}, 30_000);
afterAll(async () => {
  await vms?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `site/env: status` for every environment of every item of a deploy --json result. */
function outcomes(run: OzgRun): string[] {
  return resultOf(run).sites.flatMap((s: any) => s.items.flatMap((i: any) => i.environments.map((e: any) => `${s.site}/${e.environment}: ${e.status}`)));
}

function errorOf(run: OzgRun, site: string, environment: string): string {
  const item = resultOf(run).sites.find((s: any) => s.site === site).items[0];
  return item.environments.find((e: any) => e.environment === environment).error;
}

async function ledger(cwd: string): Promise<LedgerRecord[]> {
  const { records, ignored } = await readLedgerFile(path.join(cwd, '.ozg', LEDGER_FILE));
  expect(ignored).toBe(0);
  return records;
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** True once a release of the site's procedure is unpacked on the host, i.e. its install hook runs next. */
async function releaseUnpacked(host: SshHost, site: string, procedure: string): Promise<boolean> {
  const releases = path.join(host.root, site, procedure, 'releases');
  const names = await readdir(releases).catch(() => [] as string[]);
  return names.some((name) => existsSync(path.join(releases, name, '.ozg-release')));
}

describe('unreachable and failing hosts', () => {
  it('fails the site whose host is down and the one whose host dies mid-install, finishes the rest, and converges after a restart', async () => {
    const cwd = path.join(dir, 'faults');
    const [okTest, okProd, cutTest, cutProd, downTest, downProd] = vms.hosts;
    await writeVmInventory(cwd, vms, {
      catalogues,
      dataCenters: [{ name: 'vm-dc', knownHosts: vms.knownHostsFile, sudo: { prod: true } }],
      sites: [
        { name: 'ok', dataCenter: 'vm-dc', test: okTest, prod: okProd, procedures: { probe: { version: '1.0.0' } } },
        // installDelay: the install hook sleeps, so the host can lose power while it runs
        { name: 'cut', dataCenter: 'vm-dc', test: cutTest, prod: cutProd, procedures: { probe: { version: '1.0.0', values: { installDelay: 3 } } } },
        { name: 'down', dataCenter: 'vm-dc', test: downTest, prod: downProd, procedures: { probe: { version: '1.0.0' } } },
      ],
    });
    await vms.kill(downTest);

    const { done } = spawnOzg(['deploy', '--json'], { cwd });
    await waitFor(() => releaseUnpacked(cutTest, 'cut', 'probe'), 'the release is unpacked on the cut test host');
    await vms.kill(cutTest);
    const run = await done;

    // both failures are unreachable targets
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 6, stderr: '' });
    expect(outcomes(run)).toEqual(['ok/test: applied', 'ok/prod: applied', 'cut/test: apply-failed', 'cut/prod: skipped', 'down/test: apply-failed']);
    expect(errorOf(run, 'cut', 'test')).toMatch(new RegExp(`connection to ${vms.user}@${cutTest.address.replace(/\./g, '\\.')}:${cutTest.port} closed.*while running a command`));
    expect(errorOf(run, 'down', 'test')).toContain(`cannot connect to ${vms.user}@${downTest.address}:${downTest.port}: connection refused`);

    const records = await ledger(cwd);
    expect(records.map((r) => `${r.site}/${r.environment}: ${r.outcome}`)).toEqual(
      expect.arrayContaining(['ok/test: applied', 'ok/prod: applied', 'cut/test: apply-failed', 'cut/prod: skipped']),
    );
    expect(records.filter((r) => r.outcome === 'applied').map((r) => `${r.site}/${r.environment}`).sort()).toEqual(['ok/prod', 'ok/test']);

    // nothing went live on the failed hosts; prod of both failed sites was never touched
    expect(await readHostMarker(cutTest, 'cut', 'probe')).toBeUndefined();
    expect(existsSync(path.join(cutTest.root, 'cut/probe/current'))).toBe(false);
    expect(await listHostFiles(cutProd)).toEqual([]);
    expect(await listHostFiles(downTest)).toEqual([]);
    expect(await listHostFiles(downProd)).toEqual([]);

    // status reads every target it can reach and names the ones it cannot
    const whileDown = await runOzg(['status', '--json'], { cwd });
    expect(whileDown.code).toBe(6);
    const rows = Object.fromEntries(resultOf(whileDown).targets.map((t: any) => [`${t.site}/${t.environment}`, t]));
    expect(rows['ok/prod']).toMatchObject({ live: '1.0.0', upToDate: true, error: null });
    expect(rows['cut/prod']).toMatchObject({ live: null, recorded: null, error: null });
    expect(rows['cut/test'].error).toContain('connection refused');
    expect(rows['down/test'].error).toContain('connection refused');

    await Promise.all([vms.restart(cutTest), vms.restart(downTest)]);
    const rerun = await runOzg(['deploy', '--json'], { cwd });
    expect({ code: rerun.code, stderr: rerun.stderr }).toEqual({ code: 0, stderr: '' });
    expect(outcomes(rerun)).toEqual(['ok/test: unchanged', 'ok/prod: unchanged', 'cut/test: applied', 'cut/prod: applied', 'down/test: applied', 'down/prod: applied']);
    for (const [site, hosts] of [['ok', [okTest, okProd]], ['cut', [cutTest, cutProd]], ['down', [downTest, downProd]]] as const) {
      for (const host of hosts) expect(await readHostMarker(host, site, 'probe')).toMatchObject({ procedure: 'probe', version: '1.0.0' });
    }
    const applied = (await ledger(cwd)).filter((r) => r.outcome === 'applied').map((r) => `${r.site}/${r.environment}`);
    expect(applied.sort()).toEqual(['cut/prod', 'cut/test', 'down/prod', 'down/test', 'ok/prod', 'ok/test']);
  });
});

describe('many hosts', () => {
  it('deploys 10 sites × test and prod to 20 hosts in parallel, one connection per host', async () => {
    const cwd = path.join(dir, 'many');
    const hosts = vms.hosts.slice(6, 26);
    const names = Array.from({ length: 10 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
    await writeVmInventory(cwd, vms, {
      catalogues,
      dataCenters: [{ name: 'vm-dc', knownHosts: vms.knownHostsFile, sudo: { test: true, prod: true } }],
      // every install hook sleeps 2 s, long enough for all sites' hooks to overlap
      sites: names.map((name, i) => ({
        name,
        dataCenter: 'vm-dc',
        test: hosts[2 * i],
        prod: hosts[2 * i + 1],
        procedures: { probe: { version: '1.0.0', values: { installDelay: 2 } } },
      })),
    });
    const logs = await markLogs(hosts);
    const { done } = spawnOzg(['deploy', '-c', '10', '--json'], { cwd });
    // install hooks running at the same moment: a release unpacked on a host that is not live yet
    let finished = false;
    let mostAtOnce = 0;
    const watching = (async () => {
      while (!finished) {
        const installing = await Promise.all(
          names.map(async (name, i) => (await releaseUnpacked(hosts[2 * i], name, 'probe')) && !existsSync(path.join(hosts[2 * i].root, name, 'probe/current'))),
        );
        mostAtOnce = Math.max(mostAtOnce, installing.filter(Boolean).length);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
    let run: OzgRun;
    try {
      run = await done;
    } finally {
      finished = true;
      await watching;
    }
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(outcomes(run)).toEqual(names.flatMap((name) => [`${name}/test: applied`, `${name}/prod: applied`]));

    const applied = (await ledger(cwd)).filter((r) => r.outcome === 'applied');
    expect(applied).toHaveLength(20);
    for (const [i, name] of names.entries()) {
      expect(await readHostMarker(hosts[2 * i], name, 'probe')).toMatchObject({ version: '1.0.0' });
      expect(await readHostMarker(hosts[2 * i + 1], name, 'probe')).toMatchObject({ version: '1.0.0' });
    }
    for (const log of await logs()) expect(countSessions(log).connections).toBe(1);
    // more sites at once than the inventory's concurrency (8): -c 10 decides
    expect(mostAtOnce).toBeGreaterThan(8);
  });
});
