import pLimit from 'p-limit';
import type { Duplex } from 'node:stream';
import { InternalError } from '../../errors.js';
import { DEFAULT_SSH_PORT } from '../../inventory/defaults.js';
import type { ExecOptions, ExecResult, ShellTransport } from '../vm/transport.js';
import { CONNECT_ATTEMPTS, CONNECT_RETRY_DELAYS_MS, connectWithRetry } from './connect-retry.js';
import { createHashKnownHostsDecision, type DecideHashKnownHosts } from './hash-known-hosts.js';
import { formatEndpoint } from './known-hosts.js';
import { runOnChannel, type SshTransportStats } from './ssh-channel.js';
import { endConnection, markLost, watchConnection, type Connection } from './ssh-connection.js';
import { connectHop, forwardOut, type ConnectHopOptions, type Hop, type Ssh2Client } from './ssh-connect.js';
import { createHostKeyVerifier, type RecordedHostKey } from './verify-host-key.js';

export type { RecordedHostKey } from './verify-host-key.js';
export type { SshTransportStats } from './ssh-channel.js';

/** A jump host the target is reached through (`ssh -J`). */
export interface SshBastion {
  host: string;
  /** default 22 */
  port?: number;
  /** default: the target's user */
  user?: string;
  /** default: the target's identity file */
  identityFile?: string;
}

export interface CreateSshTransportOptions {
  host: string;
  /** default 22 */
  port?: number;
  user: string;
  /** private key file (unencrypted; use the agent for keys with a passphrase) */
  identityFile?: string;
  /** path of the ssh-agent socket (the caller passes SSH_AUTH_SOCK in) */
  agent?: string;
  knownHostsFile: string;
  /** record keys of hosts not yet in known_hosts instead of refusing them */
  acceptNewHostKeys: boolean;
  /** whether a recorded key is written hashed; default: the user's OpenSSH (`ssh -G`) decides */
  hashKnownHosts?: DecideHashKnownHosts;
  /** told about every key recorded with acceptNewHostKeys, so the run can show it */
  onHostKeyRecorded?: (recorded: RecordedHostKey) => void;
  /** run every script as root through `sudo -n` */
  sudo: boolean;
  bastion?: SshBastion;
  /** TCP connect + SSH handshake + authentication, per hop; default 10 000 */
  connectTimeoutMs?: number;
  /** how messages name the target; default `user@host:port` */
  where?: string;
  /** session channels open at once on the connection (sshd's MaxSessions defaults to 10); default 8 */
  maxChannels?: number;
  /** connection attempts when the server drops one before authentication (connect-retry.ts); default 3 */
  connectAttempts?: number;
  /** the run's interrupt (Ctrl-C): no further connection attempt once it is aborted */
  signal?: AbortSignal;
}

export interface SshTransport extends ShellTransport {
  readonly stats: SshTransportStats;
}

/**
 * The `ssh` transport: one SSH connection per target, opened on the first exec and reused by
 * every later one; each script runs as `exec sh -c <script>` in the login user's shell, or
 * as root through `sudo -n` (ssh-channel.ts). A script killed by a signal reports exitCode
 * null without sudo and 128+signal with it (the wrapper's shell sees it as a child's status).
 */
export function createSshTransport(options: CreateSshTransportOptions): SshTransport {
  const { target, bastion } = describeHops(options);
  const where = options.where ?? target.label;
  const stats: SshTransportStats = { connects: 0, execs: 0, bytesSent: 0 };
  const maxChannels = options.maxChannels ?? 8;
  if (!Number.isInteger(maxChannels) || maxChannels < 1) throw new InternalError(`maxChannels must be a positive integer, got ${maxChannels}`);
  const channels = pLimit(maxChannels);
  const hopOptions: ConnectHopOptions = {
    where,
    knownHostsFile: options.knownHostsFile,
    agent: options.agent,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    verifyHostKey: createHostKeyVerifier({
      where,
      knownHostsFile: options.knownHostsFile,
      acceptNewHostKeys: options.acceptNewHostKeys,
      hashKnownHosts: options.hashKnownHosts ?? createHashKnownHostsDecision({ env: process.env }),
      onHostKeyRecorded: options.onHostKeyRecorded,
    }),
  };
  const connectAttempts = options.connectAttempts ?? CONNECT_ATTEMPTS;
  if (!Number.isInteger(connectAttempts) || connectAttempts < 1) throw new InternalError(`connectAttempts must be a positive integer, got ${connectAttempts}`);
  // close() ends a retry loop still pausing, so closing never waits out its pauses; a later exec connects afresh
  let closing = new AbortController();
  let connecting: Promise<Connection> | undefined;

  function getConnection(): Promise<Connection> {
    if (!connecting) {
      const attempt = openConnection();
      connecting = attempt;
      // A failed attempt is not cached: the next exec tries again.
      attempt.catch(() => {
        if (connecting === attempt) connecting = undefined;
      });
    }
    return connecting;
  }

  async function connect(hop: Hop, sock?: Duplex): Promise<Ssh2Client> {
    const client = await connectHop(hop, hopOptions, sock);
    stats.connects++;
    return client;
  }

  function openConnection(): Promise<Connection> {
    // each attempt starts from the first hop: a dropped bastion or target connection is gone
    const signal = options.signal ? AbortSignal.any([options.signal, closing.signal]) : closing.signal;
    return connectWithRetry(openConnectionOnce, { attempts: connectAttempts, delaysMs: CONNECT_RETRY_DELAYS_MS, signal });
  }

  async function openConnectionOnce(): Promise<Connection> {
    let bastionClient: Ssh2Client | undefined;
    try {
      let sock: Duplex | undefined;
      if (bastion) {
        bastionClient = await connect(bastion);
        sock = await forwardOut(bastionClient, bastion, target, where);
      }
      const client = await connect(target, sock);
      const connection: Connection = { client, bastion: bastionClient, running: new Set() };
      watchConnection(connection, client, target, lose);
      if (bastionClient) watchConnection(connection, bastionClient, bastion!, lose);
      return connection;
    } catch (error) {
      bastionClient?.destroy();
      throw error;
    }
  }

  function lose(connection: Connection, reason: string): void {
    if (!markLost(connection, reason)) return;
    if (connecting) {
      void connecting.then(
        (current) => {
          if (current === connection) connecting = undefined;
        },
        () => undefined,
      );
    }
  }

  async function exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
    // The connection is fetched inside the slot: one lost while this exec waited is replaced.
    return channels(async () => runOnChannel(await getConnection(), script, execOptions, { where, targetLabel: target.label, sudo: options.sudo, stats }));
  }

  async function close(): Promise<void> {
    closing.abort();
    closing = new AbortController();
    const pending = connecting;
    connecting = undefined;
    if (!pending) return;
    let connection: Connection;
    try {
      connection = await pending;
    } catch {
      return;
    }
    await endConnection(connection, target.label);
  }

  return { where, stats, exec, close };
}

/** The target and the bastion before it, defaults filled in. */
function describeHops(options: CreateSshTransportOptions): { target: Hop; bastion?: Hop } {
  const port = options.port ?? DEFAULT_SSH_PORT;
  const target: Hop = {
    host: options.host,
    port,
    user: options.user,
    identityFile: options.identityFile,
    label: `${options.user}@${formatEndpoint(options.host, port)}`,
  };
  if (!options.bastion) return { target };
  const b = options.bastion;
  const bastionPort = b.port ?? DEFAULT_SSH_PORT;
  const bastionUser = b.user ?? options.user;
  const bastion: Hop = {
    host: b.host,
    port: bastionPort,
    user: bastionUser,
    identityFile: b.identityFile ?? options.identityFile,
    label: `bastion ${bastionUser}@${formatEndpoint(b.host, bastionPort)}`,
  };
  return { target, bastion };
}
