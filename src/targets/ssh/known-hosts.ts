import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isErrnoCode } from '../../system-error.js';

/**
 * OpenSSH known_hosts, read and written the way `ssh` does, so operators keep one file for
 * ozg and their own ssh sessions. Format: `[@marker] patterns keytype base64 [comment]`.
 */

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  file: string;
  /** 1-based line number, for messages that tell the operator which line to remove */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** comma-separated host patterns (`!` negation, `*`/`?` wildcards), or one hashed name */
  hosts: { kind: 'patterns'; patterns: string[] } | { kind: 'hashed'; salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
}

export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const entry = parseLine(lines[i], file, i + 1);
    if (entry) entries.push(entry);
  }
  return entries;
}

/**
 * The last parse of each known_hosts file, with the file's identity when it was read. Every
 * connection reads the file twice (algorithm order, then the key check): parsing it each time
 * costs O(hosts) per connection, O(hosts²) per run (1,000 hosts: 2 million lines parsed).
 */
const parsedFiles = new Map<string, { identity: string; entries: readonly KnownHostEntry[] }>();

/**
 * Device, inode, size, mtime and ctime in nanoseconds: any write, rename over or truncation
 * changes at least one (ctime cannot be set back by hand), so a cached parse is only reused
 * for the very file it came from.
 */
async function fileIdentity(file: string, nowMs: number): Promise<{ identity: string; settled: boolean } | undefined> {
  try {
    const s = await stat(file, { bigint: true });
    // File times tick in jiffies: a same-size rewrite within one tick of the last write would
    // keep every field. A file changed within the last second is read each time, never cached.
    const changedMs = Number((s.mtimeNs > s.ctimeNs ? s.mtimeNs : s.ctimeNs) / 1_000_000n);
    return { identity: `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`, settled: nowMs - changedMs > SETTLED_MS };
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

const SETTLED_MS = 1_000;

/**
 * A missing file is an empty one: the first accepted key creates it. Read anew whenever the
 * file changed (another transport may just have recorded a key); the entries are shared, not copied.
 */
export async function readKnownHosts(file: string, options: { nowMs?: () => number } = {}): Promise<readonly KnownHostEntry[]> {
  const seen = await fileIdentity(file, (options.nowMs ?? Date.now)());
  if (seen === undefined) {
    parsedFiles.delete(file);
    return [];
  }
  const { identity, settled } = seen;
  const cached = parsedFiles.get(file);
  if (settled && cached?.identity === identity) return cached.entries;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return [];
    throw error;
  }
  const entries = parseKnownHosts(text, file);
  // the identity taken before the read: a write in between changes it again, so the next read re-parses
  if (settled) parsedFiles.set(file, { identity, entries });
  else parsedFiles.delete(file);
  return entries;
}

function parseLine(raw: string, file: string, line: number): KnownHostEntry | undefined {
  const text = raw.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  const fields = text.split(/[ \t]+/);
  let marker: KnownHostEntry['marker'];
  if (fields[0].startsWith('@')) {
    const name = fields.shift();
    if (name === '@revoked') marker = 'revoked';
    else if (name === '@cert-authority') marker = 'cert-authority';
    // ssh ignores lines with markers it does not know; so do we
    else return undefined;
  }
  const [hostField, keyType, keyText] = fields;
  // Malformed lines are skipped like ssh does; a later line may still match the host.
  if (!hostField || !keyType || !keyText || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyText)) return undefined;
  const key = Buffer.from(keyText, 'base64');
  if (key.length === 0) return undefined;
  const hosts = parseHostField(hostField);
  if (!hosts) return undefined;
  return { file, line, ...(marker ? { marker } : {}), hosts, keyType, key };
}

function parseHostField(field: string): KnownHostEntry['hosts'] | undefined {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return undefined;
    return { kind: 'hashed', salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  }
  return { kind: 'patterns', patterns: field.split(',').filter((p) => p !== '') };
}

/** The name ssh looks up: `host` on port 22, `[host]:port` otherwise (lower case). */
export function formatKnownHostName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** `host:port` (IPv6 in brackets), for messages. */
export function formatEndpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function matchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = formatKnownHostName(host, port);
  if (entry.hosts.kind === 'hashed') {
    const digest = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return digest.length === entry.hosts.hash.length && timingSafeEqual(digest, entry.hosts.hash);
  }
  let matched = false;
  for (const pattern of entry.hosts.patterns) {
    const negated = pattern.startsWith('!');
    if (!matchPattern(name, (negated ? pattern.slice(1) : pattern).toLowerCase())) continue;
    // A matching negation excludes the host from the whole line, whatever else matches.
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** ssh's `match_pattern`: `*` any run of characters, `?` exactly one. */
function matchPattern(name: string, pattern: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return name === pattern;
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(name);
}

/** The key type named inside an SSH public key blob (its first length-prefixed string). */
export function readKeyType(blob: Buffer): string {
  if (blob.length < 4) throw new Error('host key blob is too short');
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) throw new Error('host key blob has no valid key type');
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:<base64 without padding>`, exactly as `ssh` and `ssh-keygen -l` print it. */
export function formatFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/** Key types known_hosts holds for a host, so the client can ask the server for one of them. */
export function listKnownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const types = new Set<string>();
  for (const e of entriesForHost(entries, host, port)) if (e.marker === undefined) types.add(e.keyType);
  return [...types];
}

/**
 * Every entry that matches host:port, in file order: what `entries.filter(e => matchesHost(e, …))`
 * gives, without testing each line. A fleet's known_hosts lists every host, and every connection
 * looks up its host twice (algorithm order, key check): a scan is O(hosts) per connection,
 * O(hosts²) per run (1,000 hosts: 0.6 ms per connection, 22,000: ~14 ms).
 */
export function entriesForHost(entries: readonly KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  let index = hostIndexes.get(entries);
  if (!index) {
    index = indexKnownHosts(entries);
    hostIndexes.set(entries, index);
  }
  return index.lookup(host, port);
}

export interface KnownHostsIndex {
  lookup(host: string, port: number): KnownHostEntry[];
  /** entries tested with matchesHost so far (the others were found by name) */
  readonly tested: number;
}

// keyed by the entries array: readKnownHosts hands out one array per parse, never changed afterwards
const hostIndexes = new WeakMap<readonly KnownHostEntry[], KnownHostsIndex>();

/**
 * Lines whose patterns are all plain names are found by name; hashed lines and lines with a
 * wildcard or a negation are tested one by one as before (ssh itself must HMAC every hashed line).
 */
export function indexKnownHosts(entries: readonly KnownHostEntry[]): KnownHostsIndex {
  const byName = new Map<string, KnownHostEntry[]>();
  const scanned: KnownHostEntry[] = [];
  for (const entry of entries) {
    const names = entry.hosts.kind === 'patterns' ? entry.hosts.patterns.map((p) => p.toLowerCase()) : undefined;
    if (!names || names.some((n) => n.startsWith('!') || n.includes('*') || n.includes('?'))) {
      scanned.push(entry);
      continue;
    }
    for (const name of new Set(names)) {
      const list = byName.get(name);
      if (list) list.push(entry);
      else byName.set(name, [entry]);
    }
  }
  const index = {
    tested: 0,
    lookup(host: string, port: number): KnownHostEntry[] {
      const named = byName.get(formatKnownHostName(host, port)) ?? [];
      if (scanned.length === 0) return [...named];
      index.tested += scanned.length;
      const found = [...named, ...scanned.filter((e) => matchesHost(e, host, port))];
      // file order, as a scan finds them (one parse: line numbers are unique)
      return found.sort((a, b) => a.line - b.line);
    },
  };
  return index;
}

// Many transports of one run may accept new keys into the same file at once; appends to one
// file are chained so the duplicate check and the write happen as one step.
const appendQueues = new Map<string, Promise<unknown>>();

export interface AppendKnownHostOptions {
  /** write the name as `|1|salt|hmac`, as ssh does with `HashKnownHosts yes` */
  hashed?: boolean;
}

/**
 * Record a host key. Creates the file (0600) and its directory (0700) when missing; writes
 * nothing when the key is already listed for the host. Resolves true when a line was written.
 * Throws when meanwhile another key was listed for the host:port (a second transport of the
 * run recorded what another server presented): that host then looks changed, never new.
 */
export function appendKnownHost(
  file: string,
  host: string,
  port: number,
  keyType: string,
  keyBlob: Buffer,
  options: AppendKnownHostOptions = {},
): Promise<boolean> {
  const absolute = path.resolve(file);
  const previous = appendQueues.get(absolute) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => writeKnownHost(absolute, host, port, keyType, keyBlob, options));
  appendQueues.set(absolute, next);
  void next.finally(() => {
    if (appendQueues.get(absolute) === next) appendQueues.delete(absolute);
  }).catch(() => undefined);
  return next;
}

async function writeKnownHost(file: string, host: string, port: number, keyType: string, keyBlob: Buffer, options: AppendKnownHostOptions): Promise<boolean> {
  let existing = '';
  try {
    existing = await readFile(file, 'utf8');
  } catch (error) {
    if (!isErrnoCode(error, 'ENOENT')) throw error;
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  }
  const listed = parseKnownHosts(existing, file).filter((e) => e.marker === undefined && matchesHost(e, host, port));
  if (listed.some((e) => e.key.equals(keyBlob))) return false;
  if (listed.length > 0) {
    const other = listed[0];
    throw new Error(
      `${file}:${other.line} meanwhile lists ${other.keyType} ${formatFingerprint(other.key)} for ${formatEndpoint(host, port)}, ` +
        `not the presented ${keyType} ${formatFingerprint(keyBlob)}`,
    );
  }
  const name = formatKnownHostName(host, port);
  const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
  const line = `${separator}${options.hashed ? hashKnownHostName(name) : name} ${keyType} ${keyBlob.toString('base64')}\n`;
  const handle = await open(file, 'a', 0o600);
  try {
    await handle.appendFile(line);
  } finally {
    await handle.close();
  }
  return true;
}

/** `|1|salt|hmac` with a fresh 20-byte salt, as `ssh-keygen -H` and ssh's HashKnownHosts write it. */
export function hashKnownHostName(name: string): string {
  const salt = randomBytes(20);
  const hash = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${hash.toString('base64')}`;
}
