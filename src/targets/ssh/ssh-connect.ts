/**
 * Opening one SSH connection to one hop (a jump host or the target): TCP, handshake, host key
 * check, authentication; and the forwarded stream a bastion opens to the next hop.
 */
import { readFile } from 'node:fs/promises';
import { connect as connectTcp, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { UnreachableError } from '../../errors.js';
import { coalesceWrites } from './coalesce-writes.js';
import { isTransientConnectError, markTransient, translateConnectError } from './connect-error.js';
import { orderHostKeyAlgorithms } from './host-key-judgement.js';
import { formatEndpoint, listKnownKeyTypes, readKnownHosts } from './known-hosts.js';
import type { VerifyHostKey } from './verify-host-key.js';

// The parts of ssh2's Client and channel used here; ssh2 ships no types of its own.
export interface Ssh2Channel extends Duplex {
  stderr: NodeJS.ReadableStream;
  signal(name: string): void;
  close(): void;
}
export interface Ssh2Client {
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

export interface Hop {
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  /** for messages: `user@host:port` or `bastion user@host:port` */
  label: string;
}

export interface ConnectHopOptions {
  /** how messages name the target */
  where: string;
  knownHostsFile: string;
  verifyHostKey: VerifyHostKey;
  /** path of the ssh-agent socket */
  agent?: string;
  /** TCP connect + SSH handshake + authentication */
  connectTimeoutMs: number;
}

type NodeSshModule = typeof import('node-ssh');
let nodeSshModule: Promise<NodeSshModule> | undefined;

// node-ssh (and ssh2 under it) load only when a VM is actually reached, never for `--help`.
function loadNodeSsh(): Promise<NodeSshModule> {
  nodeSshModule ??= import('node-ssh');
  return nodeSshModule;
}

/** An authenticated connection to `hop`, over `sock` (a bastion's forwarded stream) or a new TCP socket. */
export async function connectHop(hop: Hop, options: ConnectHopOptions, sock?: Duplex): Promise<Ssh2Client> {
  const { where } = options;
  const { NodeSSH } = await loadNodeSsh();
  const privateKey = hop.identityFile === undefined ? undefined : await readIdentity(hop, where);
  const knownHosts = await readKnownHosts(options.knownHostsFile).catch((error: Error) => {
    throw new UnreachableError(where, `cannot read known_hosts ${options.knownHostsFile}: ${error.message}`, { cause: error });
  });
  let refusal: UnreachableError | undefined;
  const ssh = new NodeSSH() as unknown as NodeSshLike;
  // ssh2 leaves Nagle on; with delayed ACKs that costs ~40 ms per command round trip.
  const socket = sock ?? openTcpSocket(hop);
  const config: Record<string, unknown> = {
    username: hop.user,
    readyTimeout: options.connectTimeoutMs,
    // Notices a VM that vanished without closing the TCP connection, even mid-command.
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer, verify: (accept: boolean) => void) => {
      options.verifyHostKey(hop.host, hop.port, key).then(
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
    // a host-key refusal stays one, however the server closed the connection after it
    if (refusal) throw refusal;
    const failure = translateConnectError(error, { where, label: hop.label, host: hop.host, user: hop.user, identityFile: hop.identityFile, agent: options.agent, connectTimeoutMs: options.connectTimeoutMs });
    throw isTransientConnectError(error) ? markTransient(failure) : failure;
  }
  return ssh.connection as Ssh2Client;
}

async function readIdentity(hop: Hop, where: string): Promise<string> {
  try {
    return await readFile(hop.identityFile!, 'utf8');
  } catch (error) {
    throw new UnreachableError(where, `cannot read the identity file ${hop.identityFile} for ${hop.label}: ${(error as Error).message}`, {
      cause: error,
      hint: 'set ssh.identityFile in sites.yaml to an existing private key, or use an ssh-agent',
    });
  }
}

/** A stream from the bastion `hop` to `target`, to run the target's SSH connection over. */
export function forwardOut(client: Ssh2Client, hop: Hop, target: Hop, where: string): Promise<Duplex> {
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

function openTcpSocket(hop: Hop): Socket {
  const socket = connectTcp({ host: hop.host, port: hop.port, noDelay: true });
  coalesceWrites(socket);
  // ssh2 reports socket errors itself; this only guards the moment before it listens.
  socket.on('error', () => undefined);
  return socket;
}
