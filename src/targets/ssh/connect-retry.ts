import { UnreachableError } from '../../errors.js';
import { isMarkedTransient } from './connect-error.js';

/**
 * Connection attempts per connect, in all. An sshd under load (MaxStartups, LoginGraceTime)
 * drops a connection before authenticating it now and then; one such drop must not fail a
 * site, as it does not in Ansible (`retries` of its ssh connection). A constant, not an
 * inventory setting: the inventory has no per-data-center connect settings to sit beside.
 */
export const CONNECT_ATTEMPTS = 3;
/** pause before the 2nd and the 3rd attempt; each is jittered by ±25 % so a fleet's drops do not retry in step */
export const CONNECT_RETRY_DELAYS_MS: readonly number[] = [200, 600];

export interface ConnectRetryOptions {
  /** attempts in all, at least 1 */
  attempts: number;
  /** pause before attempt i+2; the last one repeats if there are more attempts than pauses */
  delaysMs: readonly number[];
  /** once aborted (Ctrl-C, or the transport closed) no further attempt is started and a pause ends at once */
  signal?: AbortSignal;
  /** 0 ≤ x < 1; default Math.random */
  random?: () => number;
}

/**
 * Runs `connect` until it succeeds, fails for good, or the attempts are used up. Only a
 * failure marked transient (connectHop: the server dropped the connection before
 * authentication) is tried again: never a host-key refusal, an authentication failure or a
 * bastion's refusal to forward. After more than one attempt the error says how many were made.
 */
export async function connectWithRetry<T>(connect: () => Promise<T>, options: ConnectRetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      const retry = isMarkedTransient(error) && attempt < options.attempts;
      if (!retry || options.signal?.aborted) throw withAttempts(error, attempt, retry);
      const base = options.delaysMs[Math.min(attempt - 1, options.delaysMs.length - 1)] ?? 0;
      await pause(base * (0.75 + 0.5 * (options.random ?? Math.random)()), options.signal);
      if (options.signal?.aborted) throw withAttempts(error, attempt, true);
    }
  }
}

/** The failure, its message ending in the attempts made when there was more than one or a retry was cut short. */
function withAttempts(error: unknown, attempts: number, interrupted: boolean): unknown {
  if (!(error instanceof UnreachableError) || (attempts === 1 && !interrupted)) return error;
  const reason = error.message.startsWith(`${error.where}: `) ? error.message.slice(error.where.length + 2) : error.message;
  const made = `${attempts} connection attempt${attempts === 1 ? '' : 's'}`;
  return new UnreachableError(error.where, `${reason} (${made}${interrupted ? ', no more: interrupted' : ''})`, { cause: error.cause ?? error, hint: error.hint });
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
