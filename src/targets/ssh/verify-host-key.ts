import { UnreachableError } from '../../errors.js';
import type { DecideHashKnownHosts } from './hash-known-hosts.js';
import { describeHostKeyRefusal, judgeHostKey } from './host-key-judgement.js';
import { appendKnownHost, formatEndpoint, formatFingerprint, readKnownHosts } from './known-hosts.js';

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

export interface VerifyHostKeyOptions {
  where: string;
  knownHostsFile: string;
  acceptNewHostKeys: boolean;
  hashKnownHosts: DecideHashKnownHosts;
  onHostKeyRecorded?: (recorded: RecordedHostKey) => void;
}

/** Checks a presented key against known_hosts: undefined when it may be used, otherwise the refusal to report. */
export type VerifyHostKey = (host: string, port: number, key: Buffer) => Promise<UnreachableError | undefined>;

/** The judgement (host-key-judgement.ts) with its I/O: known_hosts read per key, and a new key recorded when accepted. */
export function createHostKeyVerifier(options: VerifyHostKeyOptions): VerifyHostKey {
  const file = options.knownHostsFile;
  return async (host, port, key) => {
    // Read again: another transport of this run may just have recorded this host's key.
    const judgement = judgeHostKey(await readKnownHosts(file), host, port, key, { acceptNew: options.acceptNewHostKeys });
    if (judgement.action === 'connect') return undefined;
    if (judgement.action === 'refuse') return describeHostKeyRefusal(judgement, { where: options.where, host, port, key, knownHostsFile: file });
    const hashed = await options.hashKnownHosts(host, port);
    if (await appendKnownHost(file, host, port, judgement.keyType, key, { hashed })) {
      options.onHostKeyRecorded?.({ endpoint: formatEndpoint(host, port), keyType: judgement.keyType, fingerprint: formatFingerprint(key), knownHostsFile: file, hashed });
    }
    return undefined;
  };
}
