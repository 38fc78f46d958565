import { readFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { InternalError, UnreachableError } from '../../errors.js';
import { quoteShell } from '../../shell-quote.js';
import { createOutputTail, droppedCounts } from '../vm/output-tail.js';
import type { ExecOptions, ExecResult, ShellTransport } from '../vm/transport.js';
import { createHashKnownHostsDecision, type DecideHashKnownHosts } from './hash-known-hosts.js';
import { judgeHostKey, orderHostKeyAlgorithms } from './host-key-judgement.js';
import { appendKnownHost, formatEndpoint, formatFingerprint, formatKnownHostName, listKnownKeyTypes, readKnownHosts } from './known-hosts.js';

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
}

/** A host key written to known_hosts under --accept-new-host-keys. */
export interface RecordedHostKey {
  /** `host:port` */
  endpoint: string;
  keyType: string;
  /** `SHA256:…`, as ssh-keygen -l prints it */
  fingerprint: string;
  knownHostsFile: string;
  /** written as `|1|salt|hmac` */
  hashed: boolean;
}

/** Counters for benchmarks: every SSH handshake (bastion hops included) and every exec. */
export interface SshTransportStats {
  connects: number;
  execs: number;
  /** command text plus stdin bytes sent */
  bytesSent: number;
}

export interface SshTransport extends ShellTransport {
  readonly stats: SshTransportStats;
}

// The parts of ssh2's Client and channel used here; ssh2 ships no types of its own.
interface Ssh2Channel extends Duplex {
  stderr: NodeJS.ReadableStream;
  signal(name: string): void;
  close(): void;
}
interface Ssh2Client {
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close' | 'end', listener: () => void): this;
  exec(command: string, callback: (error: Error | undefined, channel: Ssh2Channel) => void): void;
  forwardOut(srcIp: string, srcPort: number, dstIp: string, dstPort: number, callback: (error: Error | undefined, stream: Duplex) => void): void;
  end(): void;
  destroy(): void;
}
interface NodeSshLike {
  connection: unknown;
  connect(config: Record<string, unknown>): Promise<unknown>;
}

interface Hop {
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  /** for messages: `user@host:port` or `bastion user@host:port` */
  label: string;
}

interface Connection {
  client: Ssh2Client;
  bastion?: Ssh2Client;
  /** set once the connection is gone; later execs open a new one */
  lost?: string;
  /** rejecters of execs running on this connection, called when it drops */
  running: Set<(reason: string) => void>;
}

/**
 * Runs the script ($1) as root so that a TERM (which sudo relays to its command) ends the
 * script's whole process group: the login user cannot signal root processes, and sudo
 * relays only to the command itself, which would orphan what the script started. The script
 * is a background job, so its stdin is passed explicitly (fd 3) instead of /dev/null.
 */
const SUDO_WRAPPER = `trap 'trap - TERM; kill -TERM 0 2>/dev/null; exit 143' TERM
{ sh -c "$1" 0<&3 3<&- & } 3<&0
wait $!`;

type NodeSshModule = typeof import('node-ssh');
let nodeSshModule: Promise<NodeSshModule> | undefined;

// node-ssh (and ssh2 under it) load only when a VM is actually reached, never for `--help`.
function loadNodeSsh(): Promise<NodeSshModule> {
  nodeSshModule ??= import('node-ssh');
  return nodeSshModule;
}

/**
 * The `ssh` transport: one SSH connection per target, opened on the first exec and reused by
 * every later one; each script runs as `exec sh -c <script>` in the login user's shell, or
 * as root through `sudo -n` and SUDO_WRAPPER. A script killed by a signal reports exitCode
 * null without sudo and 128+signal with it (the wrapper's shell sees it as a child's status).
 */
export function createSshTransport(options: CreateSshTransportOptions): SshTransport {
  const port = options.port ?? 22;
  const target: Hop = {
    host: options.host,
    port,
    user: options.user,
    identityFile: options.identityFile,
    label: `${options.user}@${formatEndpoint(options.host, port)}`,
  };
  const bastion: Hop | undefined = options.bastion && {
    host: options.bastion.host,
    port: options.bastion.port ?? 22,
    user: options.bastion.user ?? options.user,
    identityFile: options.bastion.identityFile ?? options.identityFile,
    label: `bastion ${options.bastion.user ?? options.user}@${formatEndpoint(options.bastion.host, options.bastion.port ?? 22)}`,
  };
  const where = options.where ?? target.label;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const stats: SshTransportStats = { connects: 0, execs: 0, bytesSent: 0 };
  const channels = createLimiter(options.maxChannels ?? 8);
  const hashKnownHosts = options.hashKnownHosts ?? createHashKnownHostsDecision({ env: process.env });
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

  async function openConnection(): Promise<Connection> {
    let bastionClient: Ssh2Client | undefined;
    try {
      let sock: Duplex | undefined;
      if (bastion) {
        bastionClient = await connectHop(bastion);
        sock = await forwardOut(bastionClient, bastion);
      }
      const client = await connectHop(target, sock);
      const connection: Connection = { client, bastion: bastionClient, running: new Set() };
      watchConnection(connection, client, target);
      if (bastionClient) watchConnection(connection, bastionClient, bastion!);
      return connection;
    } catch (error) {
      bastionClient?.destroy();
      throw error;
    }
  }

  function watchConnection(connection: Connection, client: Ssh2Client, hop: Hop): void {
    let lastError: Error | undefined;
    // Without an 'error' listener a reset connection would crash the whole process.
    client.on('error', (error) => {
      lastError = error;
    });
    client.on('close', () => {
      const reason = `connection to ${hop.label} closed${lastError ? `: ${lastError.message}` : ''}`;
      markLost(connection, reason);
    });
  }

  function markLost(connection: Connection, reason: string): void {
    if (connection.lost) return;
    connection.lost = reason;
    if (connecting) {
      void connecting.then(
        (current) => {
          if (current === connection) connecting = undefined;
        },
        () => undefined,
      );
    }
    for (const reject of connection.running) reject(reason);
    connection.running.clear();
    // The other hop is useless now: a dead bastion strands the target connection and vice versa.
    connection.client.destroy();
    connection.bastion?.destroy();
  }

  async function connectHop(hop: Hop, sock?: Duplex): Promise<Ssh2Client> {
    const { NodeSSH } = await loadNodeSsh();
    const privateKey = hop.identityFile === undefined ? undefined : await readIdentity(hop);
    const knownHosts = await readKnownHosts(options.knownHostsFile).catch((error: Error) => {
      throw new UnreachableError(where, `cannot read known_hosts ${options.knownHostsFile}: ${error.message}`, { cause: error });
    });
    let refusal: UnreachableError | undefined;
    const ssh = new NodeSSH() as unknown as NodeSshLike;
    // ssh2 leaves Nagle on; with delayed ACKs that costs ~40 ms per command round trip.
    const socket = sock ?? openTcpSocket(hop);
    const config: Record<string, unknown> = {
      username: hop.user,
      readyTimeout: connectTimeoutMs,
      // Notices a VM that vanished without closing the TCP connection, even mid-command.
      keepaliveInterval: 10_000,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer, verify: (accept: boolean) => void) => {
        judgeHostKeyOf(hop, key).then(
          (problem) => {
            refusal = problem;
            verify(problem === undefined);
          },
          (error: Error) => {
            refusal = new UnreachableError(where, `cannot check the host key of ${hop.label}: ${error.message}`, { cause: error });
            verify(false);
          },
        );
      },
      algorithms: { serverHostKey: orderHostKeyAlgorithms(listKnownKeyTypes(knownHosts, hop.host, hop.port)) },
      host: hop.host,
      port: hop.port,
      sock: socket,
      ...(privateKey === undefined ? {} : { privateKey }),
      ...(options.agent ? { agent: options.agent } : {}),
    };
    try {
      await ssh.connect(config);
    } catch (error) {
      socket.destroy();
      throw refusal ?? describeConnectError(hop, error);
    }
    stats.connects++;
    return ssh.connection as Ssh2Client;
  }

  async function readIdentity(hop: Hop): Promise<string> {
    try {
      return await readFile(hop.identityFile!, 'utf8');
    } catch (error) {
      throw new UnreachableError(where, `cannot read the identity file ${hop.identityFile} for ${hop.label}: ${(error as Error).message}`, {
        cause: error,
        hint: 'set ssh.identityFile in sites.yaml to an existing private key, or use an ssh-agent',
      });
    }
  }

  /** undefined when the key may be used, otherwise the refusal to report */
  async function judgeHostKeyOf(hop: Hop, key: Buffer): Promise<UnreachableError | undefined> {
    const file = options.knownHostsFile;
    const endpoint = formatEndpoint(hop.host, hop.port);
    const fingerprint = formatFingerprint(key);
    // Read again: another transport of this run may just have recorded this host's key.
    const judgement = judgeHostKey(await readKnownHosts(file), hop.host, hop.port, key, { acceptNew: options.acceptNewHostKeys });
    if (judgement.action === 'connect') return undefined;
    const { keyType } = judgement;
    if (judgement.action === 'record') {
      const hashed = await hashKnownHosts(hop.host, hop.port);
      if (await appendKnownHost(file, hop.host, hop.port, keyType, key, { hashed })) {
        options.onHostKeyRecorded?.({ endpoint, keyType, fingerprint, knownHostsFile: file, hashed });
      }
      return undefined;
    }
    switch (judgement.reason) {
      case 'unknown':
        return new UnreachableError(
          where,
          `unknown host key for ${endpoint} (${keyType} ${fingerprint}); verify it, then rerun with ` +
            `--accept-new-host-keys to record it in ${file}`,
          { hint: `compare with \`ssh-keygen -lf /etc/ssh/ssh_host_${hostKeyFileKind(keyType)}_key.pub\` run on the host itself` },
        );
      case 'changed': {
        const listed = judgement.known.map((e) => `${e.file}:${e.line} lists ${e.keyType} ${formatFingerprint(e.key)}`).join('; ');
        const lines = [...new Set(judgement.known.map((e) => e.line))].join(', ');
        // What to do goes into the message itself: a rollout shows each site's message, not hints.
        return new UnreachableError(
          where,
          `HOST KEY CHANGED for ${endpoint}: ${listed}; the host now presents ${keyType} ${fingerprint}, which matches none of them. ` +
            `Someone may be intercepting the connection (man-in-the-middle), or the host was reinstalled; refusing to connect ` +
            `(--accept-new-host-keys never replaces a known key). Check the host's key out of band (ssh-keygen -lf on the host itself); ` +
            `if ${fingerprint} is legitimate, remove line${judgement.known.length > 1 ? 's' : ''} ${lines} from ${file} ` +
            `(ssh-keygen -R '${formatKnownHostName(hop.host, hop.port)}' -f ${file}) and rerun with --accept-new-host-keys`,
        );
      }
      case 'revoked': {
        const entry = judgement.entry;
        return new UnreachableError(
          where,
          `host key of ${endpoint} (${keyType} ${fingerprint}) is marked @revoked in ${entry.file}:${entry.line}; refusing to connect`,
        );
      }
    }
  }

  function describeConnectError(hop: Hop, error: unknown): UnreachableError {
    const err = error as Error & { level?: string; code?: string };
    const prefix = `cannot connect to ${hop.label}`;
    if (err.level === 'client-authentication') {
      const methods = [hop.identityFile && `key ${hop.identityFile}`, options.agent && `the agent at ${options.agent}`].filter(Boolean);
      return new UnreachableError(
        where,
        `${prefix}: authentication failed for user ${hop.user} with ${methods.length ? methods.join(' and ') : 'no key and no agent'}`,
        { cause: error, hint: `check that the public key is in ~${hop.user}/.ssh/authorized_keys on ${hop.host}, and ssh.user / ssh.identityFile in sites.yaml` },
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
    if (/encrypted/i.test(err.message) && /passphrase/i.test(err.message)) {
      return new UnreachableError(where, `${prefix}: the identity file ${hop.identityFile} is protected by a passphrase`, {
        cause: error,
        hint: 'load the key into an ssh-agent (ssh-add) and run with SSH_AUTH_SOCK set',
      });
    }
    return new UnreachableError(where, `${prefix}: ${err.code ? `${err.code} ` : ''}${err.message}`, { cause: error });
  }

  function forwardOut(client: Ssh2Client, hop: Hop): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      // The bastion may drop before it answers; the 'close' listener turns that into an error too.
      const onClose = (): void => reject(new UnreachableError(where, `${hop.label} closed the connection before forwarding to ${target.label}`));
      client.on('close', onClose);
      client.forwardOut('127.0.0.1', 0, target.host, target.port, (error, stream) => {
        if (error) {
          reject(
            new UnreachableError(where, `${hop.label} cannot open a connection to ${formatEndpoint(target.host, target.port)}: ${error.message}`, {
              cause: error,
              hint: 'check that the bastion allows TCP forwarding (AllowTcpForwarding) and reaches the host',
            }),
          );
        } else {
          resolve(stream);
        }
      });
    });
  }

  async function exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
    // The connection is fetched inside the slot: one lost while this exec waited is replaced.
    return channels.run(async () => runOnChannel(await getConnection(), script, execOptions));
  }

  function runOnChannel(connection: Connection, script: string, execOptions: ExecOptions): Promise<ExecResult> {
    // `exec`: the login shell becomes the command, so a signal that ends it is reported as one.
    const command = options.sudo
      ? `exec sudo -n sh -c ${quoteShell(SUDO_WRAPPER)} ozg ${quoteShell(script)}`
      : `exec sh -c ${quoteShell(script)}`;
    // a Buffer goes out as it is: Buffer.from(buffer) would copy a whole release per apply
    const stdin = execOptions.stdin === undefined || Buffer.isBuffer(execOptions.stdin) ? execOptions.stdin : Buffer.from(execOptions.stdin);
    if (connection.lost) return Promise.reject(lostError(connection.lost, 0));
    stats.execs++;
    stats.bytesSent += Buffer.byteLength(command) + (stdin?.length ?? 0);
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);

    return new Promise<ExecResult>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      let graceTimer: NodeJS.Timeout | undefined;
      const settle = (action: () => void): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (graceTimer) clearTimeout(graceTimer);
        connection.running.delete(onLost);
        action();
      };
      const onLost = (reason: string): void => settle(() => reject(lostError(reason, elapsed())));
      connection.running.add(onLost);

      connection.client.exec(command, (error, channel) => {
        if (error) {
          settle(() =>
            reject(
              connection.lost
                ? lostError(connection.lost, elapsed())
                : new UnreachableError(where, `cannot start a command on ${target.label}: ${error.message}`, { cause: error }),
            ),
          );
          return;
        }
        const stdout = createOutputTail();
        const stderr = createOutputTail();
        let exitCode: number | null = null;
        let exited = false;
        let timedOut = false;
        channel.on('data', (chunk: Buffer) => stdout.push(chunk));
        channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
        channel.on('exit', (code: number | null) => {
          exited = true;
          exitCode = typeof code === 'number' ? code : null;
        });
        const finish = (): void =>
          settle(() =>
            resolve({
              exitCode: timedOut ? null : exitCode,
              // decoded once at the end: a chunk boundary may split a multi-byte character
              stdout: stdout.text(),
              stderr: stderr.text(),
              durationMs: elapsed(),
              ...(timedOut ? { timedOut } : {}),
              ...droppedCounts(stdout, stderr),
            }),
          );
        channel.on('close', () => {
          if (exited || timedOut) finish();
          // sshd always reports an exit status or signal before closing a session it ran
          // to the end; a close without one means the connection went away under it.
          else if (connection.lost) onLost(connection.lost);
          else setImmediate(() => (connection.lost ? onLost(connection.lost) : onLost(`${target.label} closed the session without an exit status`)));
        });
        channel.on('error', () => undefined);
        if (execOptions.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            timedOut = true;
            exitCode = null;
            // sshd delivers the signal to the command's process group, so what the script
            // started dies with it (except processes running as another user, e.g. via sudo).
            // TERM first: sudo relays it to a root command, which a KILL from the login user cannot reach.
            sendSignal(channel, 'TERM');
            graceTimer = setTimeout(() => {
              sendSignal(channel, 'KILL');
              try {
                channel.close();
              } catch {
                // the channel is already going away
              }
              graceTimer = setTimeout(finish, 2_000);
            }, 500);
          }, execOptions.timeoutMs);
        }
        channel.end(stdin);
      });
    });
  }

  function lostError(reason: string, durationMs: number): UnreachableError {
    return new UnreachableError(where, `${reason} (while running a command, after ${durationMs} ms)`, {
      hint: 'the command may have run partly; `ozg status` shows what the target reports now',
    });
  }

  async function close(): Promise<void> {
    const pending = connecting;
    connecting = undefined;
    if (!pending) return;
    let connection: Connection;
    try {
      connection = await pending;
    } catch {
      return;
    }
    if (connection.lost) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        markLost(connection, `connection to ${target.label} closed by ozg`);
        resolve();
      }, 2_000);
      connection.client.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
      connection.client.end();
    });
    connection.bastion?.end();
  }

  return { where, stats, exec, close };
}

function openTcpSocket(hop: Hop): Socket {
  const socket = connectTcp({ host: hop.host, port: hop.port, noDelay: true });
  // ssh2 reports socket errors itself; this only guards the moment before it listens.
  socket.on('error', () => undefined);
  return socket;
}

/**
 * ssh2's channel.signal() sends nothing once stdin was ended (it checks `writable`), though
 * SSH allows a signal request on any open session; ours always end stdin, so go one level down.
 */
function sendSignal(channel: Ssh2Channel, name: 'TERM' | 'KILL'): void {
  const internal = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
  };
  try {
    const protocol = internal._client?._protocol;
    if ((internal.outgoing?.state === 'open' || internal.outgoing?.state === 'eof') && typeof protocol?.signal === 'function') protocol.signal(internal.outgoing.id, name);
    else channel.signal(name);
  } catch {
    // the channel or connection is already gone
  }
}

/** The part of /etc/ssh/ssh_host_<kind>_key.pub that names a key type. */
function hostKeyFileKind(keyType: string): string {
  if (keyType.startsWith('ecdsa-')) return 'ecdsa';
  return keyType.replace(/^ssh-/, '');
}

/** At most `limit` tasks at once; the rest wait in order. */
function createLimiter(limit: number): { run<T>(task: () => Promise<T>): Promise<T> } {
  if (!Number.isInteger(limit) || limit < 1) throw new InternalError(`maxChannels must be a positive integer, got ${limit}`);
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
      active++;
      try {
        return await task();
      } finally {
        active--;
        waiting.shift()?.();
      }
    },
  };
}
