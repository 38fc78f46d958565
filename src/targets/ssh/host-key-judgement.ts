import { UnreachableError } from '../../errors.js';
import { entriesForHost, formatEndpoint, formatFingerprint, formatKnownHostName, readKeyType, type KnownHostEntry } from './known-hosts.js';

/**
 * What to do with the host key a server presents, decided from known_hosts alone (pure, no
 * I/O), with OpenSSH's rules: a host:port that has ANY key listed and presents a key that
 * matches none of them has *changed*, whatever the key types, and is refused even when new
 * keys may be accepted (OpenSSH's "REMOTE HOST IDENTIFICATION HAS CHANGED" under
 * StrictHostKeyChecking=accept-new). Only a host:port with no key at all is new.
 */
export type HostKeyJudgement =
  | { action: 'connect'; entry: KnownHostEntry }
  | { action: 'record'; keyType: string }
  | { action: 'refuse'; reason: 'unknown'; keyType: string }
  /** `known`: every key listed for the host:port, none of them the presented one */
  | { action: 'refuse'; reason: 'changed'; keyType: string; known: KnownHostEntry[] }
  | { action: 'refuse'; reason: 'revoked'; keyType: string; entry: KnownHostEntry };

export interface JudgeHostKeyOptions {
  /** --accept-new-host-keys: a host:port with no listed key gets the presented one recorded */
  acceptNew: boolean;
}

export function judgeHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  keyBlob: Buffer,
  options: JudgeHostKeyOptions,
): HostKeyJudgement {
  const keyType = readKeyType(keyBlob);
  // @cert-authority lines are ignored: ozg does not verify host certificates.
  const forHost = entriesForHost(entries, host, port).filter((e) => e.marker !== 'cert-authority');
  // A revoked key is refused whatever else the file says about the host.
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(keyBlob));
  if (revoked) return { action: 'refuse', reason: 'revoked', keyType, entry: revoked };
  const known = forHost.filter((e) => e.marker === undefined);
  const match = known.find((e) => e.key.equals(keyBlob));
  if (match) return { action: 'connect', entry: match };
  if (known.length > 0) return { action: 'refuse', reason: 'changed', keyType, known };
  return options.acceptNew ? { action: 'record', keyType } : { action: 'refuse', reason: 'unknown', keyType };
}

export interface HostKeyRefusalContext {
  /** how messages name the target */
  where: string;
  host: string;
  port: number;
  /** the key the server presented */
  key: Buffer;
  knownHostsFile: string;
}

/**
 * A refusal as the error to report (pure). What to do goes into the message itself, not only
 * the hint: the ledger and `status` keep each target's message, not hints.
 */
export function describeHostKeyRefusal(judgement: Extract<HostKeyJudgement, { action: 'refuse' }>, context: HostKeyRefusalContext): UnreachableError {
  const { where, host, port, knownHostsFile: file } = context;
  const endpoint = formatEndpoint(host, port);
  const fingerprint = formatFingerprint(context.key);
  const { keyType } = judgement;
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
      return new UnreachableError(
        where,
        `HOST KEY CHANGED for ${endpoint}: ${listed}; the host now presents ${keyType} ${fingerprint}, which matches none of them. ` +
          `Someone may be intercepting the connection (man-in-the-middle), or the host was reinstalled; refusing to connect ` +
          `(--accept-new-host-keys never replaces a known key). Check the host's key out of band (ssh-keygen -lf on the host itself); ` +
          `if ${fingerprint} is legitimate, remove line${judgement.known.length > 1 ? 's' : ''} ${lines} from ${file} ` +
          `(ssh-keygen -R '${formatKnownHostName(host, port)}' -f ${file}) and rerun with --accept-new-host-keys`,
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

/** The part of /etc/ssh/ssh_host_<kind>_key.pub that names a key type. */
function hostKeyFileKind(keyType: string): string {
  if (keyType.startsWith('ecdsa-')) return 'ecdsa';
  return keyType.replace(/^ssh-/, '');
}

const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];
const HOST_KEY_ALGORITHMS_BY_KEY_TYPE: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * The host key algorithms the client offers, in order (ssh2's `algorithms.serverHostKey`):
 * the types known_hosts lists for the host first, as ssh does, so a server holding several
 * keys shows the pinned one instead of one that would look changed.
 */
export function orderHostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const preferred = knownTypes
    .flatMap((type) => HOST_KEY_ALGORITHMS_BY_KEY_TYPE[type] ?? [type])
    .filter((algorithm) => DEFAULT_HOST_KEY_ALGORITHMS.includes(algorithm));
  return [...new Set([...preferred, ...DEFAULT_HOST_KEY_ALGORITHMS])];
}
