/**
 * The floor: the least any tool must do to deploy to (or check) these hosts over SSH, run in
 * a fresh Node process of its own. Per host one connection (host key checked against
 * known_hosts, key authentication) and one exec, `parallel` hosts at a time, node-ssh/ssh2
 * directly with Nagle off as ozg has it. Request as JSON in argv[2], result as JSON on stdout.
 *
 *   deploy: the exec receives the release tar on stdin, unpacks it and writes a marker
 *   noop:   the exec cats that marker
 *   blob:   the exec receives a large file (the artefact) on stdin, streamed from disk, and
 *           `cat`s it into a file renamed in place: the same bytes as ozg's cold artefact delivery
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { connect as connectTcp } from 'node:net';
import type { Duplex } from 'node:stream';

export interface FloorRequest {
  mode: 'deploy' | 'noop' | 'blob';
  hosts: Array<{ address: string; port: number }>;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  /** the release archive (deploy), the artefact (blob) */
  archiveFile: string;
  /** the folder on every host the floor writes into */
  dir: string;
  parallel: number;
}

export interface FloorResult {
  wallMs: number;
  /** user + system CPU of this process */
  cpuMs: number;
  /** the same split into user and system (kernel: socket writes, key exchange syscalls) */
  cpuUserMs: number;
  cpuSystemMs: number;
  hosts: number;
  failures: string[];
  maxRssKb: number;
}

interface Channel extends Duplex {
  stderr: NodeJS.ReadableStream;
}
interface Client {
  exec(command: string, callback: (error: Error | undefined, channel: Channel) => void): void;
  end(): void;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '') as FloorRequest;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const { NodeSSH } = await import('node-ssh');
  const [privateKey, knownHosts, archive] = await Promise.all([
    readFile(request.identityFile, 'utf8'),
    readFile(request.knownHostsFile, 'utf8'),
    request.mode === 'deploy' ? readFile(request.archiveFile) : Promise.resolve(undefined),
  ]);
  const keys = new Map<string, Buffer>();
  for (const line of knownHosts.split('\n')) {
    const [name, , base64] = line.trim().split(/\s+/);
    if (name && base64) keys.set(name, Buffer.from(base64, 'base64'));
  }
  const marker = `${request.dir}/marker`;
  const command =
    request.mode === 'deploy'
      ? `set -e; d=${request.dir}; rm -rf "$d/release"; mkdir -p "$d/release"; cd "$d/release"; tar -x -f -; echo floor-release >"$d/marker.tmp"; mv -f "$d/marker.tmp" "$d/marker"`
      : request.mode === 'blob'
        ? `set -e; d=${request.dir}; mkdir -p "$d"; cat >"$d/blob.tmp"; mv -f "$d/blob.tmp" "$d/blob"`
        : `cat ${marker}`;

  const failures: string[] = [];
  const deployTo = async (host: { address: string; port: number }): Promise<void> => {
    const name = `[${host.address}]:${host.port}`;
    const expected = keys.get(name);
    if (!expected) throw new Error(`${name} is not in ${request.knownHostsFile}`);
    const ssh = new NodeSSH();
    const sock = connectTcp({ host: host.address, port: host.port, noDelay: true });
    sock.on('error', () => undefined);
    await ssh.connect({
      host: host.address,
      port: host.port,
      username: request.user,
      privateKey,
      sock,
      algorithms: { serverHostKey: ['ssh-ed25519'] },
      hostVerifier: (key: Buffer) => key.equals(expected),
    } as Parameters<typeof ssh.connect>[0]);
    const client = ssh.connection as unknown as Client;
    try {
      const { code, stdout, stderr } = await run(client, command, request.mode === 'blob' ? createReadStream(request.archiveFile, { highWaterMark: 64 * 1024 }) : archive);
      if (code !== 0) throw new Error(`exit ${code}: ${stderr.trim()}`);
      if (request.mode === 'noop' && stdout.trim() !== 'floor-release') throw new Error(`unexpected marker ${JSON.stringify(stdout)}`);
    } finally {
      client.end();
    }
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < request.hosts.length) {
      const host = request.hosts[next++]!;
      await deployTo(host).catch((error: Error) => failures.push(`${host.address}:${host.port}: ${error.message}`));
    }
  };
  await Promise.all(Array.from({ length: Math.min(request.parallel, request.hosts.length) }, worker));
  const cpu = process.cpuUsage(cpuStart);
  const result: FloorResult = { wallMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000, cpuUserMs: cpu.user / 1000, cpuSystemMs: cpu.system / 1000, hosts: request.hosts.length, failures, maxRssKb: process.resourceUsage().maxRSS };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function run(client: Client, command: string, stdin: Buffer | Readable | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | null = null;
      channel.on('data', (chunk: Buffer) => out.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      channel.on('exit', (c: number | null) => (code = c));
      channel.on('close', () => resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
      if (stdin && !Buffer.isBuffer(stdin)) stdin.pipe(channel);
      else channel.end(stdin);
    });
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`floor: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exitCode = 1;
});
