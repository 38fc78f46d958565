import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { UnreachableError } from '../../src/errors.js';
import { useSshHosts } from '../helpers/ssh-test-hosts.js';

// DEBUG1 makes the bastion log its forwarding (direct-tcpip) requests
const vms = useSshHosts(4, { logLevel: 'DEBUG1', transport: { where: 'kiel/test' } });
const { connect } = vms;

async function failureOf(promise: Promise<unknown>): Promise<{ error: UnreachableError; ms: number }> {
  const started = performance.now();
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UnreachableError);
  return { error: error as UnreachableError, ms: performance.now() - started };
}

describe('transport faults become UnreachableError', () => {
  it('reports a host whose sshd is down at once, and reconnects once it is back', async () => {
    const host = vms.hosts[0];
    await vms.kill(host);
    const transport = connect(host);
    const { error, ms } = await failureOf(transport.exec('true'));
    expect(error.message).toBe(`kiel/test: cannot connect to ${vms.user}@${host.address}:${host.port}: connection refused (is sshd running on that port?)`);
    expect(ms).toBeLessThan(1_000);
    await vms.restart(host);
    expect((await transport.exec('echo back')).stdout).toBe('back\n');
  });

  it('gives up after connectTimeoutMs when the port answers but never speaks SSH', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const { error, ms } = await failureOf(connect({ address: '127.0.0.1', port }, { connectTimeoutMs: 400 }).exec('true'));
      expect(error.message).toContain(`127.0.0.1:${port}: no SSH handshake within 400 ms`);
      expect(ms).toBeLessThan(2_000);
    } finally {
      silent.close();
    }
  });

  it('names the user and the key file when authentication fails', async () => {
    const otherKey = path.join(vms.dir, 'not-authorized');
    await promisify(execFile)('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const { error } = await failureOf(connect(vms.hosts[1], { identityFile: otherKey }).exec('true'));
    expect(error.message).toContain(`authentication failed for user ${vms.user} with key ${otherKey}`);
    expect(error.hint).toContain('authorized_keys');
  });

  it('names a missing identity file', async () => {
    const missing = path.join(vms.dir, 'no-such-key');
    const { error } = await failureOf(connect(vms.hosts[1], { identityFile: missing }).exec('true'));
    expect(error.message).toContain(`cannot read the identity file ${missing}`);
  });

  it('fails a running command when its host dies, instead of hanging', async () => {
    const host = vms.hosts[1];
    const transport = connect(host);
    expect((await transport.exec('echo up')).stdout).toBe('up\n');
    const running = transport.exec('sleep 30');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await vms.kill(host);
    const { error, ms } = await failureOf(running);
    expect(error.message).toMatch(new RegExp(`connection to ${vms.user}@${host.address.replace(/\./g, '\\.')}:${host.port} closed.*while running a command`));
    expect(ms).toBeLessThan(3_000);
    await vms.restart(host);
    expect((await transport.exec('echo reconnected')).stdout).toBe('reconnected\n');
    expect(transport.stats.connects).toBe(2);
  });
});

describe('bastion (jump host)', () => {
  it('reaches the target through a forwarded connection on the bastion', async () => {
    const [bastion, target] = [vms.hosts[2], vms.hosts[3]];
    const transport = connect(target, { bastion: { host: bastion.address, port: bastion.port } });
    expect((await transport.exec('echo via-bastion')).stdout).toBe('via-bastion\n');
    expect(transport.stats.connects).toBe(2);
    expect(await bastion.readLog()).toContain(`server_request_direct_tcpip: originator 127.0.0.1 port 0, target ${target.address} port ${target.port}`);

    // the target connection lives inside the bastion's: without the bastion it is gone
    const running = transport.exec('sleep 30');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await vms.kill(bastion);
    const { error } = await failureOf(running);
    expect(error.message).toContain('while running a command');
    const again = await failureOf(transport.exec('true'));
    expect(again.error.message).toContain(`cannot connect to bastion ${vms.user}@${bastion.address}:${bastion.port}: connection refused`);
    await vms.restart(bastion);
  });

  it('verifies the bastion host key against the same known_hosts', async () => {
    const [bastion, target] = [vms.hosts[2], vms.hosts[3]];
    const file = await vms.writeKnownHosts(path.join(vms.dir, 'no-bastion'), { omit: [bastion] });
    const { error } = await failureOf(connect(target, { knownHostsFile: file, bastion: { host: bastion.address, port: bastion.port } }).exec('true'));
    expect(error.message).toContain(`unknown host key for ${bastion.address}:${bastion.port}`);
  });

  it('verifies the target host key behind the bastion', async () => {
    const [bastion, target] = [vms.hosts[2], vms.hosts[3]];
    const file = await vms.writeKnownHosts(path.join(vms.dir, 'wrong-target'), { wrongKeyFor: [target] });
    const { error } = await failureOf(connect(target, { knownHostsFile: file, bastion: { host: bastion.address, port: bastion.port } }).exec('true'));
    expect(error.message).toContain(`HOST KEY CHANGED for ${target.address}:${target.port}`);
  });
});
