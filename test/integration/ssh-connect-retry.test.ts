import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ExitCode, UnreachableError } from '../../src/errors.js';
import { startDroppingProxy, type DroppingProxy } from '../helpers/dropping-proxy.js';
import { useSshHosts } from '../helpers/ssh-test-hosts.js';

/** An sshd that drops connections before authenticating them (MaxStartups, LoginGraceTime), through a real proxy. */

const vms = useSshHosts(2, { transport: { where: 'kiel/test' } });
let proxy: DroppingProxy;
/** known_hosts naming the host's real key at the proxy's address */
let knownHostsFile: string;

beforeEach(async () => {
  const host = vms.hosts[0];
  proxy = await startDroppingProxy(host);
  knownHostsFile = path.join(vms.dir, `known_hosts_${proxy.port}`);
  await writeFile(knownHostsFile, `[${proxy.address}]:${proxy.port} ${host.hostKey.type} ${host.hostKey.base64}\n`, { mode: 0o600 });
});
afterEach(async () => {
  await proxy.close();
});

async function failureOf(promise: Promise<unknown>): Promise<UnreachableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnreachableError);
  return error as UnreachableError;
}

describe('an SSH connect the server drops before authentication is tried again', () => {
  it.each([
    [1, 'accept'],
    [2, 'accept'],
    [1, 'banner'],
    [2, 'banner'],
  ] as const)('runs the command after %i dropped connection(s), dropped at %s', async (drops, at) => {
    proxy.drop(drops, at);
    const transport = vms.connect(proxy, { knownHostsFile });
    const result = await transport.exec('echo reached');
    expect(result).toMatchObject({ exitCode: 0, stdout: 'reached\n' });
    expect(proxy.connections).toBe(drops + 1);
    expect(transport.stats.connects).toBe(1);
  });

  it.each([
    // before the banner the proxy may see the client's own banner unread, and then resets
    ['accept', '(closed the connection before|reset the connection \\(ECONNRESET\\) during)'],
    ['banner', '(closed the connection during|reset the connection \\(ECONNRESET\\) during)'],
  ] as const)('gives up after 3 attempts when every connection is dropped at %s, saying so', async (at, how) => {
    proxy.drop(Infinity, at);
    const error = await failureOf(vms.connect(proxy, { knownHostsFile }).exec('true'));
    expect(error.exitCode).toBe(ExitCode.unreachable);
    const prefix = `kiel/test: cannot connect to ${vms.user}@127.0.0.1:${proxy.port}: the server `;
    expect(error.message.startsWith(prefix)).toBe(true);
    expect(error.message.slice(prefix.length)).toMatch(new RegExp(`^${how} the SSH handshake \\(3 connection attempts\\)$`));
    expect(proxy.connections).toBe(3);
  });

  it('tries as often as connectAttempts says', async () => {
    proxy.drop(Infinity, 'accept');
    const error = await failureOf(vms.connect(proxy, { knownHostsFile, connectAttempts: 1 }).exec('true'));
    expect(error.message).not.toContain('attempt');
    expect(proxy.connections).toBe(1);
  });

  it('refuses an unknown host key after exactly one connection', async () => {
    const empty = path.join(vms.dir, 'known_hosts_empty');
    await writeFile(empty, '', { mode: 0o600 });
    const error = await failureOf(vms.connect(proxy, { knownHostsFile: empty }).exec('true'));
    expect(error.message).toContain('unknown');
    expect(error.message).not.toContain('attempt');
    expect(proxy.connections).toBe(1);
  });

  it('refuses an unknown host key once, also after a dropped connection before it', async () => {
    const empty = path.join(vms.dir, 'known_hosts_empty2');
    await writeFile(empty, '', { mode: 0o600 });
    proxy.drop(1, 'accept');
    const error = await failureOf(vms.connect(proxy, { knownHostsFile: empty }).exec('true'));
    expect(error.message).toContain('unknown');
    expect(error.message).toContain('(2 connection attempts)');
    expect(proxy.connections).toBe(2);
  });

  it('does not try again when authentication fails', async () => {
    const otherKey = path.join(vms.dir, `not-authorized-${proxy.port}`);
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const error = await failureOf(vms.connect(proxy, { knownHostsFile, identityFile: otherKey }).exec('true'));
    expect(error.message).toContain(`authentication failed for user ${vms.user} with key ${otherKey}`);
    expect(error.message).not.toContain('attempt');
    expect(proxy.connections).toBe(1);
  });

  it('starts no further attempt once the run is interrupted', async () => {
    const interrupt = new AbortController();
    proxy.drop(Infinity, 'accept');
    // Ctrl-C while the first attempt is under way
    proxy.onConnection = () => interrupt.abort();
    const error = await failureOf(vms.connect(proxy, { knownHostsFile, signal: interrupt.signal }).exec('true'));
    expect(error.message).toMatch(/\(1 connection attempt, no more: interrupted\)$/);
    expect(proxy.connections).toBe(1);
  });

  it('ends a retry pause at once when the transport is closed', async () => {
    proxy.drop(Infinity, 'accept');
    const transport = vms.connect(proxy, { knownHostsFile });
    const failed = failureOf(transport.exec('true'));
    proxy.onConnection = () => void transport.close();
    const error = await failed;
    expect(error.message).toMatch(/\(1 connection attempt, no more: interrupted\)$/);
    expect(proxy.connections).toBe(1);
  });

  describe('through a bastion', () => {
    /** the bastion (hosts[1]) behind the proxy, the target (hosts[0]) at its own address */
    async function viaBastion(): Promise<{ bastion: DroppingProxy; knownHostsFile: string }> {
      const [target, jump] = vms.hosts;
      const bastion = await startDroppingProxy(jump);
      const file = path.join(vms.dir, `known_hosts_bastion_${bastion.port}`);
      const lines = [`[${bastion.address}]:${bastion.port} ${jump.hostKey.type} ${jump.hostKey.base64}`, `[${target.address}]:${target.port} ${target.hostKey.type} ${target.hostKey.base64}`];
      await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
      return { bastion, knownHostsFile: file };
    }

    it('tries the bastion again when it drops the connection', async () => {
      const { bastion, knownHostsFile } = await viaBastion();
      try {
        bastion.drop(2, 'accept');
        const transport = vms.connect(vms.hosts[0], { knownHostsFile, bastion: { host: bastion.address, port: bastion.port } });
        expect((await transport.exec('echo through')).stdout).toBe('through\n');
        expect(bastion.connections).toBe(3);
      } finally {
        await bastion.close();
      }
    });

    it('does not try again when the bastion refuses to forward', async () => {
      const { bastion, knownHostsFile } = await viaBastion();
      try {
        // the target's port is the proxy's own, closed once it is: nothing listens there
        const closed = await startDroppingProxy(vms.hosts[0]);
        const port = closed.port;
        await closed.close();
        const error = await failureOf(vms.connect({ address: '127.0.0.1', port }, { knownHostsFile, bastion: { host: bastion.address, port: bastion.port } }).exec('true'));
        expect(error.message).toContain(`cannot open a connection to 127.0.0.1:${port}`);
        expect(error.message).not.toContain('attempt');
        expect(bastion.connections).toBe(1);
      } finally {
        await bastion.close();
      }
    });
  });
});
