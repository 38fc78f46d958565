import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseJsonLines, repoRoot, resultOf, runOzg } from '../helpers/run-ozg.js';
import { startSshHosts, type SshHost, type SshHosts } from '../helpers/sshd-harness.js';
import { listHostFiles, readHostMarker, writeVmInventory } from '../helpers/vm-inventory.js';

/**
 * Host keys through the real CLI against real sshd: a host:port pinned with an ed25519 key that
 * presents a key of another type is an impostor (OpenSSH: "REMOTE HOST IDENTIFICATION HAS
 * CHANGED"), never a new host, so --accept-new-host-keys must not record it and deploy to it.
 */

const catalogues = [path.join(repoRoot, 'test/fixtures/e2e/gate/templates')];

let vms: SshHosts;
let dir: string;

beforeAll(async () => {
  vms = await startSshHosts(4);
  dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-e2e-impostor-'));
}, 30_000);
afterAll(async () => {
  await vms?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function inventory(cwd: string, knownHosts: string, sites: Array<[string, SshHost]>): Promise<string> {
  return writeVmInventory(cwd, vms, {
    catalogues,
    dataCenters: [{ name: 'vm-dc', knownHosts, withoutProd: true }],
    sites: sites.map(([name, test]) => ({ name, dataCenter: 'vm-dc', test, procedures: { probe: { version: '1.0.0' } } })),
  });
}

describe('a pinned host that presents a key of another type', () => {
  it('is refused as changed, naming host and both fingerprints, with or without --accept-new-host-keys; nothing is deployed or recorded', async () => {
    const cwd = path.join(dir, 'impostor');
    const [rsaHost, ecdsaHost] = vms.hosts;
    // pinned as `ozg cloud-init` pins: the ed25519 key only
    const knownHosts = await vms.writeKnownHosts(path.join(dir, 'impostor-known_hosts'), { omit: vms.hosts.slice(2) });
    const pinned = new Map([rsaHost, ecdsaHost].map((h) => [h, h.hostKey.blob]));
    await vms.replaceHostKey(rsaHost, { type: 'rsa' });
    await vms.replaceHostKey(ecdsaHost, { type: 'ecdsa' });
    expect([rsaHost.hostKey.type, ecdsaHost.hostKey.type]).toEqual(['ssh-rsa', 'ecdsa-sha2-nistp256']);
    await inventory(cwd, knownHosts, [['rsa-site', rsaHost], ['ecdsa-site', ecdsaHost]]);
    const before = await readFile(knownHosts, 'utf8');

    const expectRefusal = (text: string, host: SshHost): void => {
      expect(text).toContain(`HOST KEY CHANGED for ${host.address}:${host.port}: ${knownHosts}:${vms.hosts.indexOf(host) + 1} lists ssh-ed25519 ${fingerprint(pinned.get(host)!)}`);
      expect(text).toContain(`the host now presents ${host.hostKey.type} ${fingerprint(host.hostKey.blob)}, which matches none of them`);
      expect(text).toContain('--accept-new-host-keys never replaces a known key');
    };

    const refused = await runOzg(['deploy'], { cwd });
    expect(refused.code).toBe(6);
    for (const host of [rsaHost, ecdsaHost]) expectRefusal(refused.stdout + refused.stderr, host);
    expect(refused.stdout).toContain(`if ${fingerprint(rsaHost.hostKey.blob)} is legitimate, remove line 1 from ${knownHosts} (ssh-keygen -R '[${rsaHost.address}]:${rsaHost.port}' -f ${knownHosts}) and rerun with --accept-new-host-keys`);

    const accepting = await runOzg(['deploy', '--accept-new-host-keys', '--json'], { cwd });
    expect(accepting.code).toBe(6);
    const errors = resultOf(accepting).sites.map((s: any) => [s.site, s.items[0].environments[0].status, s.items[0].environments[0].error]);
    expect(errors.map(([site, status]: string[]) => `${site}: ${status}`).sort()).toEqual(['ecdsa-site: apply-failed', 'rsa-site: apply-failed']);
    for (const [site, , error] of errors) expectRefusal(error, site === 'rsa-site' ? rsaHost : ecdsaHost);
    expect(parseJsonLines(accepting.stdout).filter((e) => e.type === 'host-key-recorded')).toEqual([]);

    expect(await readFile(knownHosts, 'utf8')).toBe(before);
    for (const host of [rsaHost, ecdsaHost]) expect(await listHostFiles(host)).toEqual([]);
  });
});

describe('--accept-new-host-keys', () => {
  it('prints each host and fingerprint it records (an event with --json) and writes hashed names when hashing is on', async () => {
    const cwd = path.join(dir, 'accept');
    const [, , first, second] = vms.hosts;
    const knownHosts = path.join(dir, 'accept-known_hosts');

    // hashing forced on: the line does not show the host, and the plain reporter names it
    await inventory(cwd, knownHosts, [['first', first]]);
    const plain = await runOzg(['deploy', '--accept-new-host-keys'], { cwd, env: { OZG_HASH_KNOWN_HOSTS: 'yes' } });
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain(`first test: recorded host key of ${first.address}:${first.port}: ssh-ed25519 ${fingerprint(first.hostKey.blob)} in ${knownHosts} (hashed)`);
    const afterFirst = await readFile(knownHosts, 'utf8');
    expect(afterFirst).toMatch(new RegExp(`^\\|1\\|[A-Za-z0-9+/=]+\\|[A-Za-z0-9+/=]+ ssh-ed25519 ${first.hostKey.base64.replace(/\+/g, '\\+')}\n$`));
    expect(afterFirst).not.toContain(first.address);
    expect(await readHostMarker(first, 'first', 'probe')).toMatchObject({ version: '1.0.0' });
    // ssh itself finds the hashed entry
    const found = await promisify(execFile)('ssh-keygen', ['-F', `[${first.address}]:${first.port}`, '-f', knownHosts]);
    expect(found.stdout).toContain(first.hostKey.base64);

    // no override: this machine's OpenSSH decides (`ssh -G`; Debian hashes), shown as an event
    const sshSays = /^hashknownhosts yes$/m.test((await promisify(execFile)('ssh', ['-G', '-p', String(second.port), second.address])).stdout);
    await inventory(cwd, knownHosts, [['first', first], ['second', second]]);
    const json = await runOzg(['deploy', '--accept-new-host-keys', '--json'], { cwd });
    expect(json.code).toBe(0);
    expect(parseJsonLines(json.stdout).filter((e) => e.type === 'host-key-recorded')).toEqual([
      {
        type: 'host-key-recorded',
        site: 'second',
        environment: 'test',
        endpoint: `${second.address}:${second.port}`,
        keyType: 'ssh-ed25519',
        fingerprint: fingerprint(second.hostKey.blob),
        knownHostsFile: knownHosts,
        hashed: sshSays,
      },
    ]);
    const lines = (await readFile(knownHosts, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[1].startsWith('|1|')).toBe(sshSays);
  });
});
