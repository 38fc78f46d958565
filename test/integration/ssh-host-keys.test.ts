import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { UnreachableError } from '../../src/errors.js';
import { formatFingerprint } from '../../src/targets/ssh/known-hosts.js';
import type { CreateSshTransportOptions, SshTransport } from '../../src/targets/ssh/ssh-transport.js';
import { VM_DEPLOY_ROOT, startSshHosts, type SshHost } from '../helpers/sshd-harness.js';
import { useSshHosts } from '../helpers/ssh-test-hosts.js';

// plain lines, whatever this machine's ssh_config says (hashing has its own test)
const vms = useSshHosts(2, { transport: { hashKnownHosts: async () => false } });
const connect = (host: SshHost, knownHostsFile: string, overrides: Partial<CreateSshTransportOptions> = {}): SshTransport =>
  vms.connect(host, { knownHostsFile, ...overrides });

async function expectRefused(promise: Promise<unknown>): Promise<UnreachableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnreachableError);
  return error as UnreachableError;
}

const touchScript = (name: string): string => `touch ${VM_DEPLOY_ROOT}/${name}`;

describe('host key verification against real sshd', () => {
  it('connects when known_hosts lists the key under [address]:port', async () => {
    expect(await readFile(vms.knownHostsFile, 'utf8')).toContain(`[${vms.hosts[0].address}]:${vms.hosts[0].port} ssh-ed25519 `);
    expect((await connect(vms.hosts[0], vms.knownHostsFile).exec('echo ok')).stdout).toBe('ok\n');
  });

  it('refuses an unknown host key with its fingerprint and the flag to accept it, and runs nothing', async () => {
    const host = vms.hosts[0];
    const file = await vms.writeKnownHosts(path.join(vms.dir, 'unknown'), { omit: [host] });
    const transport = connect(host, file);
    const error = await expectRefused(transport.exec(touchScript('ran-unknown')));
    expect(error.message).toContain(
      `unknown host key for ${host.address}:${host.port} (ssh-ed25519 ${formatFingerprint(host.hostKey.blob)}); ` +
        `verify it, then rerun with --accept-new-host-keys to record it in ${file}`,
    );
    expect(existsSync(path.join(host.root, 'ran-unknown'))).toBe(false);
    expect(transport.stats).toMatchObject({ connects: 0, execs: 0 });
    expect(await readFile(file, 'utf8')).not.toContain(host.hostKey.base64);
  });

  it('records a new key with --accept-new-host-keys, then verifies it without the flag', async () => {
    const host = vms.hosts[1];
    const file = path.join(vms.dir, 'fresh', 'known_hosts');
    const first = connect(host, file, { acceptNewHostKeys: true });
    expect((await first.exec(touchScript('accepted') + ' && echo ran')).stdout).toBe('ran\n');
    expect(await readFile(file, 'utf8')).toBe(`[${host.address}]:${host.port} ssh-ed25519 ${host.hostKey.base64}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    const second = connect(host, file);
    expect((await second.exec('echo again')).stdout).toBe('again\n');
    // a second accepting connection finds the key and writes nothing more
    await connect(host, file, { acceptNewHostKeys: true }).exec('true');
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('refuses a changed host key even with --accept-new-host-keys, naming the file, line and both fingerprints', async () => {
    const host = vms.hosts[1];
    const file = await vms.writeKnownHosts(path.join(vms.dir, 'changed'), { wrongKeyFor: [host] });
    const before = await readFile(file, 'utf8');
    const oldKey = Buffer.from(before.split('\n')[1].split(' ')[2], 'base64');
    const error = await expectRefused(connect(host, file, { acceptNewHostKeys: true }).exec(touchScript('ran-changed')));
    expect(error.message).toContain(`HOST KEY CHANGED for ${host.address}:${host.port}`);
    expect(error.message).toContain(`${file}:2 lists ssh-ed25519 ${formatFingerprint(oldKey)}`);
    expect(error.message).toContain(`now presents ssh-ed25519 ${formatFingerprint(host.hostKey.blob)}`);
    expect(error.message).toMatch(/man-in-the-middle/);
    expect(error.message).toContain(`ssh-keygen -R '[${host.address}]:${host.port}' -f ${file}) and rerun with --accept-new-host-keys`);
    expect(existsSync(path.join(host.root, 'ran-changed'))).toBe(false);
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('verifies hashed known_hosts entries (ssh-keygen -H)', async () => {
    const file = await vms.writeKnownHosts(path.join(vms.dir, 'hashed'), { hashed: true });
    expect(await readFile(file, 'utf8')).not.toContain(vms.hosts[0].address);
    expect((await connect(vms.hosts[0], file).exec('echo hashed')).stdout).toBe('hashed\n');
    expect((await connect(vms.hosts[1], file).exec('echo hashed')).stdout).toBe('hashed\n');
  });

  it('refuses a key marked @revoked', async () => {
    const host = vms.hosts[0];
    const file = await vms.writeKnownHosts(path.join(vms.dir, 'revoked'));
    await appendFile(file, `@revoked * ssh-ed25519 ${host.hostKey.base64}\n`);
    const error = await expectRefused(connect(host, file, { acceptNewHostKeys: true }).exec('true'));
    expect(error.message).toContain(`is marked @revoked in ${file}:3`);
  });

  it('asks a server with several host keys for the type known_hosts pins, so the pinned RSA key is verified', async () => {
    const keyDir = await mkdtemp(path.join(vms.dir, 'rsa-'));
    const rsaKey = path.join(keyDir, 'ssh_host_rsa_key');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsaKey]);
    const rsaBase64 = (await readFile(`${rsaKey}.pub`, 'utf8')).split(' ')[1];
    // the harness's ed25519 key comes first in sshd_config; the RSA key is the second
    const both = await startSshHosts(1, { extraConfig: [`HostKey ${rsaKey}`] });
    const transports: SshTransport[] = [];
    try {
      const host = both.hosts[0];
      const file = path.join(vms.dir, 'rsa-only');
      await writeFile(file, `[${host.address}]:${host.port} ssh-rsa ${rsaBase64}\n`);
      const rsaOnly = connect(host, file, { identityFile: both.identityFile });
      const ed25519 = connect(host, both.knownHostsFile, { identityFile: both.identityFile });
      transports.push(rsaOnly, ed25519);
      expect((await rsaOnly.exec('echo rsa')).stdout).toBe('rsa\n');
      // control: the same server shows its ed25519 key to a client that knows that one
      expect((await ed25519.exec('echo ed25519')).stdout).toBe('ed25519\n');
    } finally {
      await Promise.all(transports.map((t) => t.close()));
      await both.stop();
    }
  }, 30_000);
});
