/**
 * SSH host keys made on this machine before a VM exists, so its first SSH connection is
 * verified against a key we already know instead of trusting whatever answers (no TOFU).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalError, RemoteCommandError, ToolMissingError } from '../errors.js';
import type { RunCommand } from '../run-command.js';
import { formatFingerprint, formatKnownHostName } from '../targets/ssh/known-hosts.js';

export type HostKeyType = 'ed25519' | 'ecdsa' | 'rsa';
export const HOST_KEY_TYPES: readonly HostKeyType[] = ['ed25519', 'ecdsa', 'rsa'];

/** One generated host key pair. `privateKey` is secret: it only ever goes into user-data. */
export interface HostKey {
  type: HostKeyType;
  /** OpenSSH public key line: `ssh-ed25519 AAAA… <comment>` */
  publicKey: string;
  /** OpenSSH private key file content */
  privateKey: string;
  /** `SHA256:…` as `ssh-keygen -l` prints it */
  fingerprint: string;
}

/** The algorithm name a public key line must start with, per key type. */
const ALGORITHMS: Record<HostKeyType, readonly string[]> = {
  ed25519: ['ssh-ed25519'],
  ecdsa: ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'],
  rsa: ['ssh-rsa'],
};

export interface GenerateHostKeysOptions {
  runCommand: RunCommand;
  /** comment stored in the keys (the VM's hostname) */
  comment: string;
  /** where the private temp directory is made (default: the OS temp directory) */
  tempRoot?: string;
}

/** Generates one key pair per type with ssh-keygen in a private (0700) temp dir, read back and deleted. */
export async function generateHostKeys(types: readonly HostKeyType[], options: GenerateHostKeysOptions): Promise<HostKey[]> {
  // mkdtemp creates the directory 0700, so the private keys are never readable by others.
  const dir = await mkdtemp(join(options.tempRoot ?? tmpdir(), 'ozg-host-keys-'));
  try {
    const keys: HostKey[] = [];
    for (const type of types) {
      const file = join(dir, `ssh_host_${type}_key`);
      const args = ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '3072'] : []), '-N', '', '-C', options.comment, '-f', file];
      const result = await options.runCommand('ssh-keygen', args);
      if (result.notFound) {
        throw new ToolMissingError('ssh-keygen is not installed on this machine; it makes the VM host keys', {
          hint: 'install it (Debian/Ubuntu: `apt-get install -y openssh-client`), then run the command again',
        });
      }
      const command = `ssh-keygen ${args.slice(0, -1).join(' ')} <temp file>`;
      if (result.exitCode !== 0) {
        throw new RemoteCommandError({ where: 'this machine', step: `generate the ${type} host key` }, command, result);
      }
      const privateKey = await readFile(file, 'utf8');
      const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim();
      const parsed = parsePublicKey(publicKey);
      if (!parsed || !ALGORITHMS[type].includes(parsed.algorithm) || !privateKey.includes('PRIVATE KEY')) {
        throw new ToolMissingError(`ssh-keygen wrote an unexpected ${type} key pair`, { hint: 'check which ssh-keygen is first on PATH (`ssh-keygen -V` or `ssh -V`)' });
      }
      keys.push({ type, publicKey, privateKey, fingerprint: formatFingerprint(parsed.blob) });
    }
    return keys;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The algorithm and raw key blob of an OpenSSH public key line, or undefined when it is not one. */
export function parsePublicKey(line: string): { algorithm: string; blob: Buffer; comment: string } | undefined {
  const match = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s+(.*))?$/.exec(line.trim());
  if (!match) return undefined;
  const blob = Buffer.from(match[2]!, 'base64');
  // The blob starts with its own algorithm name (uint32 length + bytes); it must agree.
  if (blob.length < 4) return undefined;
  const nameLength = blob.readUInt32BE(0);
  if (4 + nameLength > blob.length || blob.subarray(4, 4 + nameLength).toString('latin1') !== match[1]) return undefined;
  return { algorithm: match[1]!, blob, comment: match[3] ?? '' };
}

/** `host algorithm key` (no comment): what ssh and our host key verifier look up. */
export function formatKnownHostsLine(host: string, port: number, publicKey: string): string {
  const parsed = parsePublicKey(publicKey);
  if (!parsed) throw new InternalError(`not an OpenSSH public key: ${publicKey.slice(0, 40)}…`);
  return `${formatKnownHostName(host, port)} ${parsed.algorithm} ${parsed.blob.toString('base64')}`;
}
