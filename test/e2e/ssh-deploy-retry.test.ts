import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { repoRoot, resultOf, runOzg, spawnOzg, type OzgRun } from '../helpers/run-ozg.js';
import { startDroppingProxy, type DroppingProxy } from '../helpers/dropping-proxy.js';
import { startSshHosts, type SshHost, type SshHosts } from '../helpers/sshd-harness.js';
import { readHostMarker, writeVmInventory } from '../helpers/vm-inventory.js';

/**
 * `ozg deploy` through the real CLI to real sshd "VMs" behind proxies that drop connections
 * before authentication, as a loaded sshd does (MaxStartups): the issue 14 bench saw one such
 * drop fail a site of a no-op deploy.
 */

const catalogues = [path.join(repoRoot, 'test/fixtures/e2e/gate/templates')];

let vms: SshHosts;
let dir: string;
const proxies: DroppingProxy[] = [];

beforeAll(async () => {
  vms = await startSshHosts(2);
  dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-ssh-retry-'));
}, 30_000);
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await vms?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The host as ozg sees it: at the proxy's address. */
function behind(host: SshHost, proxy: DroppingProxy): SshHost {
  return { ...host, address: proxy.address, port: proxy.port };
}

function errorOf(run: OzgRun, site: string, environment: string): string {
  const item = resultOf(run).sites.find((s: any) => s.site === site).items[0];
  return item.environments.find((e: any) => e.environment === environment).error;
}

describe('deploying to VMs whose sshd drops connections before authenticating them', () => {
  it('deploys through one and two dropped connections, and fails the site with exit 6 naming the attempts when every one is dropped', async () => {
    const cwd = path.join(dir, 'retry');
    const [testHost, prodHost] = vms.hosts;
    const [testProxy, prodProxy] = await Promise.all([startDroppingProxy(testHost), startDroppingProxy(prodHost)]);
    proxies.push(testProxy, prodProxy);
    const knownHosts = path.join(dir, 'known_hosts_proxies');
    const line = (host: SshHost, proxy: DroppingProxy) => `[${proxy.address}]:${proxy.port} ${host.hostKey.type} ${host.hostKey.base64}`;
    await writeFile(knownHosts, `${line(testHost, testProxy)}\n${line(prodHost, prodProxy)}\n`, { mode: 0o600 });
    await writeVmInventory(cwd, vms, {
      catalogues,
      dataCenters: [{ name: 'vm-dc', knownHosts }],
      sites: [{ name: 'kiel', dataCenter: 'vm-dc', test: behind(testHost, testProxy), prod: behind(prodHost, prodProxy), procedures: { probe: { version: '1.0.0' } } }],
    });

    testProxy.drop(1, 'accept');
    prodProxy.drop(2, 'banner');
    const deployed = await runOzg(['deploy', '--json', '--yes'], { cwd });
    expect({ code: deployed.code, stderr: deployed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(resultOf(deployed).sites.map((s: any) => `${s.site}: ${s.result}`)).toEqual(['kiel: ok']);
    expect([testProxy.connections, prodProxy.connections]).toEqual([2, 3]);
    expect((await readHostMarker(prodHost, 'kiel', 'probe'))?.version).toBe('1.0.0');

    // the bench's case: a no-op deploy, one host dropping every connection
    prodProxy.drop(Infinity, 'accept');
    const failed = await runOzg(['deploy', '--json', '--yes'], { cwd });
    expect(failed.code).toBe(6);
    const error = errorOf(failed, 'kiel', 'prod');
    expect(error).toContain(`cannot connect to ${vms.user}@${prodProxy.address}:${prodProxy.port}: the server `);
    // closed before the server's banner, or reset when the proxy had the client's banner unread
    expect(error).toMatch(/the server (closed the connection before|reset the connection \(ECONNRESET\) during) the SSH handshake \(3 connection attempts\)$/);
    expect(prodProxy.connections).toBe(3 + 3);
  });

  it('starts no further connection attempt after Ctrl-C', async () => {
    const cwd = path.join(dir, 'interrupt');
    const [testHost, prodHost] = vms.hosts;
    const proxy = await startDroppingProxy(testHost);
    proxies.push(proxy);
    const knownHosts = path.join(dir, 'known_hosts_interrupt');
    await writeFile(knownHosts, `[${proxy.address}]:${proxy.port} ${testHost.hostKey.type} ${testHost.hostKey.base64}\n`, { mode: 0o600 });
    await writeVmInventory(cwd, vms, {
      catalogues,
      dataCenters: [{ name: 'vm-dc', knownHosts }],
      sites: [{ name: 'flensburg', dataCenter: 'vm-dc', test: behind(testHost, proxy), prod: prodHost, procedures: { probe: { version: '1.0.0' } } }],
    });
    proxy.drop(Infinity, 'accept');
    const { child, done } = spawnOzg(['deploy', '--json', '--yes'], { cwd });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    // the first attempt is held open until ozg has taken the Ctrl-C in, then dropped
    proxy.onConnection = async () => {
      child.kill('SIGINT');
      while (!output.includes('interrupted')) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const run = await done;
    expect(run.code).toBe(130);
    expect(proxy.connections).toBe(1);
    expect(run.stdout).toContain('(1 connection attempt, no more: interrupted)');
  });
});
