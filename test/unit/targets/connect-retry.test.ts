import { jest } from '@jest/globals';
import { ExitCode, UnreachableError } from '../../../src/errors.js';
import { isTransientConnectError, markTransient } from '../../../src/targets/ssh/connect-error.js';
import { connectWithRetry } from '../../../src/targets/ssh/connect-retry.js';

/** An error shaped like the ones ssh2, node-ssh and node:net throw. */
function failure(message: string, extra: { level?: string; code?: string } = {}): Error {
  return Object.assign(new Error(message), extra);
}

describe('isTransientConnectError', () => {
  it.each([
    ['a reset connection', failure('read ECONNRESET', { code: 'ECONNRESET', level: 'client-socket' })],
    ['a write to a closed connection', failure('write EPIPE', { code: 'EPIPE', level: 'client-socket' })],
    ['a connection closed before the server identified itself', failure('Connection lost before handshake', { level: 'protocol' })],
    ['a connection closed during the handshake (node-ssh)', failure('No response from server', { code: 'ETIMEDOUT' })],
  ])('tries again after %s', (_what, error) => {
    expect(isTransientConnectError(error)).toBe(true);
  });

  it.each([
    ['an authentication failure', failure('All configured authentication methods failed', { level: 'client-authentication' })],
    ['an agent failure', failure('Failed to connect to agent', { level: 'agent' })],
    ['a handshake timeout', failure('Timed out while waiting for handshake', { level: 'client-timeout' })],
    ['a refused port', failure('connect ECONNREFUSED 127.0.0.1:22', { code: 'ECONNREFUSED', level: 'client-socket' })],
    ['an unknown host name', failure('getaddrinfo ENOTFOUND vm.example', { code: 'ENOTFOUND', level: 'client-socket' })],
    ['a failed name lookup', failure('getaddrinfo EAI_AGAIN vm.example', { code: 'EAI_AGAIN', level: 'client-socket' })],
    ['an unreachable network', failure('connect EHOSTUNREACH 10.0.0.5:22', { code: 'EHOSTUNREACH', level: 'client-socket' })],
    ['a TCP connect timeout', failure('connect ETIMEDOUT 10.0.0.5:22', { code: 'ETIMEDOUT', level: 'client-socket' })],
    ['a protocol error', failure('Handshake failed: no matching host key format', { level: 'handshake' })],
    ['a thrown string', 'boom'],
  ])('does not try again after %s', (_what, error) => {
    expect(isTransientConnectError(error)).toBe(false);
  });
});

function dropped(where = 'kiel/test'): UnreachableError {
  return markTransient(new UnreachableError(where, 'cannot connect to deploy@10.0.0.5:22: the server closed the connection during the SSH handshake', { hint: 'h' }));
}

/** A fake connect failing with the given errors in turn, then succeeding. */
function fakeConnect(failures: unknown[]): { connect: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    connect: async () => {
      const error = failures[calls++];
      if (error !== undefined) throw error;
      return 'connected';
    },
    calls: () => calls,
  };
}

const fast = { attempts: 3, delaysMs: [0, 0], random: () => 0.5 };

describe('connectWithRetry', () => {
  it('connects after transient failures, within the attempts', async () => {
    const fake = fakeConnect([dropped(), dropped()]);
    await expect(connectWithRetry(fake.connect, fast)).resolves.toBe('connected');
    expect(fake.calls()).toBe(3);
  });

  it('gives up after the last attempt, the message counting them and everything else kept', async () => {
    const fake = fakeConnect([dropped(), dropped(), dropped(), dropped()]);
    const error = (await connectWithRetry(fake.connect, fast).catch((e: unknown) => e)) as UnreachableError;
    expect(fake.calls()).toBe(3);
    expect(error).toBeInstanceOf(UnreachableError);
    expect(error.exitCode).toBe(ExitCode.unreachable);
    expect(error.where).toBe('kiel/test');
    expect(error.hint).toBe('h');
    expect(error.message).toBe('kiel/test: cannot connect to deploy@10.0.0.5:22: the server closed the connection during the SSH handshake (3 connection attempts)');
  });

  it('tries once and keeps the error as it is when it is not transient', async () => {
    const refusal = new UnreachableError('kiel/test', 'cannot connect to deploy@10.0.0.5:22: authentication failed for user deploy with key k');
    const fake = fakeConnect([refusal]);
    await expect(connectWithRetry(fake.connect, fast)).rejects.toBe(refusal);
    expect(fake.calls()).toBe(1);
  });

  it('stops at a lasting failure after a transient one, counting the attempts', async () => {
    const fake = fakeConnect([dropped(), new UnreachableError('kiel/test', 'unknown host key for 10.0.0.5 (ssh-ed25519 SHA256:x)')]);
    await expect(connectWithRetry(fake.connect, fast)).rejects.toThrow('kiel/test: unknown host key for 10.0.0.5 (ssh-ed25519 SHA256:x) (2 connection attempts)');
    expect(fake.calls()).toBe(2);
  });

  it('never retries what is not an UnreachableError marked transient', async () => {
    const bug = new TypeError('x is undefined');
    const fake = fakeConnect([bug]);
    await expect(connectWithRetry(fake.connect, fast)).rejects.toBe(bug);
    expect(fake.calls()).toBe(1);
  });

  it('starts no attempt after an interrupt, and ends a pause at once', async () => {
    const interrupt = new AbortController();
    const fake = fakeConnect([dropped(), dropped(), dropped()]);
    // an hour's pause: only the interrupt can end it
    const pending = connectWithRetry(fake.connect, { attempts: 3, delaysMs: [3_600_000], signal: interrupt.signal });
    await new Promise((resolve) => setImmediate(resolve));
    expect(fake.calls()).toBe(1);
    interrupt.abort();
    await expect(pending).rejects.toThrow('the server closed the connection during the SSH handshake (1 connection attempt, no more: interrupted)');
    expect(fake.calls()).toBe(1);
  });

  it('pauses 200 ms then 600 ms by default, jittered by ±25 %', async () => {
    const pauses: number[] = [];
    const realSetTimeout = global.setTimeout;
    const spy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      pauses.push(ms ?? 0);
      return realSetTimeout(fn, 0);
    }) as typeof setTimeout);
    try {
      const { CONNECT_RETRY_DELAYS_MS } = await import('../../../src/targets/ssh/connect-retry.js');
      const low = fakeConnect([dropped(), dropped()]);
      await connectWithRetry(low.connect, { attempts: 3, delaysMs: CONNECT_RETRY_DELAYS_MS, random: () => 0 });
      const high = fakeConnect([dropped(), dropped()]);
      await connectWithRetry(high.connect, { attempts: 3, delaysMs: CONNECT_RETRY_DELAYS_MS, random: () => 0.999_999 });
    } finally {
      spy.mockRestore();
    }
    expect(pauses.map((ms) => Math.round(ms))).toEqual([150, 450, 250, 750]);
  });
});
