import { ExitCode, UnreachableError } from '../../../src/errors.js';
import { translateConnectError, type ConnectAttempt } from '../../../src/targets/ssh/connect-error.js';

const attempt: ConnectAttempt = {
  where: 'kiel/test',
  label: 'deploy@10.0.0.5:2222',
  host: '10.0.0.5',
  user: 'deploy',
  identityFile: '/home/op/.ssh/id_ed25519',
  agent: '/run/user/1000/agent.sock',
  connectTimeoutMs: 400,
};

/** An error shaped like the ones ssh2 and node:net throw. */
function failure(message: string, extra: { level?: string; code?: string } = {}): Error {
  return Object.assign(new Error(message), extra);
}

describe('translateConnectError', () => {
  it('names the user and every method tried when authentication fails, and where to put the key', () => {
    const error = translateConnectError(failure('All configured authentication methods failed', { level: 'client-authentication' }), attempt);
    expect(error.message).toBe(
      'kiel/test: cannot connect to deploy@10.0.0.5:2222: authentication failed for user deploy with key /home/op/.ssh/id_ed25519 and the agent at /run/user/1000/agent.sock',
    );
    expect(error.hint).toBe('check that the public key is in ~deploy/.ssh/authorized_keys on 10.0.0.5, and ssh.user / ssh.identityFile in sites.yaml');
  });

  it('says that no key and no agent were offered when neither was', () => {
    const error = translateConnectError(failure('All configured authentication methods failed', { level: 'client-authentication' }), {
      ...attempt,
      identityFile: undefined,
      agent: undefined,
    });
    expect(error.message).toMatch(/authentication failed for user deploy with no key and no agent$/);
  });

  it('reports a handshake that did not finish in time with the timeout used', () => {
    const error = translateConnectError(failure('Timed out while waiting for handshake', { level: 'client-timeout' }), attempt);
    expect(error.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: no SSH handshake within 400 ms');
    expect(error.hint).toMatch(/firewall, bastion/);
  });

  it('asks whether sshd runs when the port refuses the connection', () => {
    const error = translateConnectError(failure('connect ECONNREFUSED 10.0.0.5:2222', { code: 'ECONNREFUSED' }), attempt);
    expect(error.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: connection refused (is sshd running on that port?)');
  });

  it('tells a server that hung up during the handshake from a network timeout', () => {
    const hungUp = translateConnectError(failure('No response from server', { code: 'ETIMEDOUT' }), attempt);
    expect(hungUp.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: the server closed the connection during the SSH handshake');
    const network = translateConnectError(failure('connect ETIMEDOUT 10.0.0.5:2222', { code: 'ETIMEDOUT' }), attempt);
    expect(network.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: ETIMEDOUT connect ETIMEDOUT 10.0.0.5:2222');
  });

  it('tells a server that closed or reset the connection before the handshake, pointing at MaxStartups', () => {
    const error = translateConnectError(failure('Connection lost before handshake', { level: 'protocol' }), attempt);
    expect(error.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: the server closed the connection before the SSH handshake');
    expect(error.hint).toMatch(/MaxStartups/);
    const reset = translateConnectError(failure('read ECONNRESET', { code: 'ECONNRESET', level: 'client-socket' }), attempt);
    expect(reset.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: the server reset the connection (ECONNRESET) during the SSH handshake');
    expect(reset.hint).toMatch(/MaxStartups/);
  });

  it('points at ssh-agent for an identity file protected by a passphrase', () => {
    const error = translateConnectError(failure('Encrypted private OpenSSH key detected, but no passphrase given'), attempt);
    expect(error.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: the identity file /home/op/.ssh/id_ed25519 is protected by a passphrase');
    expect(error.hint).toMatch(/ssh-add/);
  });

  it('keeps any other failure with its code and message, and the original as cause', () => {
    const original = failure('getaddrinfo ENOTFOUND vm.invalid', { code: 'ENOTFOUND' });
    const error = translateConnectError(original, attempt);
    expect(error.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: ENOTFOUND getaddrinfo ENOTFOUND vm.invalid');
    expect(error.cause).toBe(original);
  });

  it('reads errors by their shape, so one made in another realm (not instanceof Error) is still recognised', () => {
    const foreign = { name: 'Error', message: 'connect ECONNREFUSED 10.0.0.5:2222', code: 'ECONNREFUSED' };
    expect(translateConnectError(foreign, attempt).message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: connection refused (is sshd running on that port?)');
    expect(translateConnectError('socket hang up', attempt).message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:2222: socket hang up');
  });

  it('always answers with UnreachableError (exit code of an unreachable target)', () => {
    for (const error of [failure('x', { level: 'client-authentication' }), failure('y', { code: 'ECONNREFUSED' }), failure('z')]) {
      const translated = translateConnectError(error, attempt);
      expect(translated).toBeInstanceOf(UnreachableError);
      expect(translated.exitCode).toBe(ExitCode.unreachable);
    }
  });
});
