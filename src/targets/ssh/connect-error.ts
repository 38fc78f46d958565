import { UnreachableError } from '../../errors.js';

/** What a failed SSH connect is translated against: the hop tried and how ozg tried it. */
export interface ConnectAttempt {
  /** how messages name the target (`user@host:port` or the inventory's name) */
  where: string;
  /** `user@host:port`, or `bastion user@host:port` for a jump host */
  label: string;
  host: string;
  user: string;
  identityFile?: string;
  /** path of the ssh-agent socket, if one was offered */
  agent?: string;
  connectTimeoutMs: number;
}

/**
 * A failure of ssh2's connect (TCP, handshake, authentication) as one UnreachableError that
 * says what failed and what to check. Pure: it only reads the error's `level`, `code` and
 * message, so every branch is unit-tested without a server.
 */
export function translateConnectError(error: unknown, attempt: ConnectAttempt): UnreachableError {
  // read by shape, not instanceof: errors of node:net may come from another realm (vm contexts)
  const err = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as { message: string; level?: string; code?: string };
  const { where, label, host, user, identityFile, agent, connectTimeoutMs } = attempt;
  const prefix = `cannot connect to ${label}`;
  if (err.level === 'client-authentication') {
    const methods = [identityFile && `key ${identityFile}`, agent && `the agent at ${agent}`].filter(Boolean);
    return new UnreachableError(
      where,
      `${prefix}: authentication failed for user ${user} with ${methods.length ? methods.join(' and ') : 'no key and no agent'}`,
      { cause: error, hint: `check that the public key is in ~${user}/.ssh/authorized_keys on ${host}, and ssh.user / ssh.identityFile in sites.yaml` },
    );
  }
  if (err.level === 'client-timeout') {
    return new UnreachableError(where, `${prefix}: no SSH handshake within ${connectTimeoutMs} ms`, {
      cause: error,
      hint: 'check that the host is up and that port is open from here (firewall, bastion)',
    });
  }
  if (err.code === 'ECONNREFUSED') {
    return new UnreachableError(where, `${prefix}: connection refused (is sshd running on that port?)`, { cause: error });
  }
  if (err.code === 'ETIMEDOUT' && /No response from server/.test(err.message)) {
    return new UnreachableError(where, `${prefix}: the server closed the connection during the SSH handshake`, { cause: error });
  }
  if (err.message === 'Connection lost before handshake' || err.code === 'ECONNRESET') {
    const how = err.code === 'ECONNRESET' ? 'reset the connection (ECONNRESET) during' : 'closed the connection before';
    return new UnreachableError(where, `${prefix}: the server ${how} the SSH handshake`, {
      cause: error,
      hint: "an sshd with too many connections not yet authenticated drops new ones (sshd_config MaxStartups); check the host's load and sshd log",
    });
  }
  if (/encrypted/i.test(err.message) && /passphrase/i.test(err.message)) {
    return new UnreachableError(where, `${prefix}: the identity file ${identityFile} is protected by a passphrase`, {
      cause: error,
      hint: 'load the key into an ssh-agent (ssh-add) and run with SSH_AUTH_SOCK set',
    });
  }
  return new UnreachableError(where, `${prefix}: ${err.code ? `${err.code} ` : ''}${err.message}`, { cause: error });
}

/**
 * Whether a failed connect may succeed if simply tried again: the server (or a network box
 * in between) dropped the TCP connection before authentication, as an sshd under load does
 * past MaxStartups or LoginGraceTime. Nothing has run on the host yet, so another attempt is
 * safe. Everything else is a verdict that another attempt would only repeat: authentication,
 * the agent, DNS, a refused or unreachable port, and a handshake timeout (the connect timeout
 * is the operator's bound on a host's silence; tripling it for every dead host is not wanted).
 * Host-key refusals never get here: connectHop throws them before asking this.
 */
export function isTransientConnectError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { message = '', level, code } = error as { message?: string; level?: string; code?: string };
  if (level === 'client-authentication' || level === 'agent' || level === 'client-dns' || level === 'client-timeout') return false;
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return true;
  // ssh2: the socket ended before the server's identification line
  if (message === 'Connection lost before handshake') return true;
  // node-ssh: the socket closed after the identification line, before authentication ended
  return code === 'ETIMEDOUT' && message === 'No response from server';
}

const transientFailures = new WeakSet<object>();

/** `error`, remembered as a failure another connect attempt may overcome (see isTransientConnectError). */
export function markTransient<T extends object>(error: T): T {
  transientFailures.add(error);
  return error;
}

export function isMarkedTransient(error: unknown): boolean {
  return typeof error === 'object' && error !== null && transientFailures.has(error);
}
