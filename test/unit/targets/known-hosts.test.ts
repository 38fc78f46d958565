import { mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appendKnownHost, entriesForHost, formatFingerprint, indexKnownHosts, matchesHost, parseKnownHosts, readKeyType, readKnownHosts } from '../../../src/targets/ssh/known-hosts.js';

// Keys, fingerprints and hashed names made with ssh-keygen (-lf, -H), so the expectations
// are OpenSSH's own answers, not this module's.
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIDZobCICjHPtr2BRL0bxSXB5mWo4ixfQbJefU1/vuZ3E';
const K1_FINGERPRINT = 'SHA256:O+hkusB9OVhxbgruB/9zxr5luIsTUZZI5wTwQQjGK6M';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIDW29heWZr5kKGBJzMkHnOO2e6e9W85eVymQmX1DOrFS';
const K2_FINGERPRINT = 'SHA256:vDcxmeCn2KaMmhRYKeWMZzLxsyb1BG+Z388iJ/jZLDo';
const K3_ECDSA =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFZ9ftVlsc3aE6BDej8EGxgg1SRirglXa67bCtGtPL61ROuC18hu7EQLj22pzdNJ5rre/wqgwkPeW1GNs9TsTlk=';
const K3_FINGERPRINT = 'SHA256:buXUETVgFsDTV1wTxF6XyI2+016BafK5n35dv/7F7iI';
/** `[10.0.0.5]:2222` → K1 and `gemeinde.example` → K2, hashed by `ssh-keygen -H` */
const HASHED = [
  `|1|FdigZ+Gb+iem/hm/oPfvQ9ktdF4=|DeKkHdP/H+WRxcR5/jiRWapmgTA= ssh-ed25519 ${K1}`,
  `|1|sTfsUtXWMuuxTW8Rc6RC853PQR8=|nAPWF0uHifsKmYAnxbiSiiiELpk= ssh-ed25519 ${K2}`,
].join('\n');

const k1 = Buffer.from(K1, 'base64');
const k2 = Buffer.from(K2, 'base64');
const k3 = Buffer.from(K3_ECDSA, 'base64');

describe('key blobs', () => {
  it('reads the key type from the blob and formats fingerprints like ssh-keygen -l', () => {
    expect(readKeyType(k1)).toBe('ssh-ed25519');
    expect(readKeyType(k3)).toBe('ecdsa-sha2-nistp256');
    expect(formatFingerprint(k1)).toBe(K1_FINGERPRINT);
    expect(formatFingerprint(k2)).toBe(K2_FINGERPRINT);
    expect(formatFingerprint(k3)).toBe(K3_FINGERPRINT);
  });

  it('rejects blobs without a key type', () => {
    expect(() => readKeyType(Buffer.alloc(2))).toThrow(/too short/);
    expect(() => readKeyType(Buffer.from([0, 0, 0, 200, 1]))).toThrow(/no valid key type/);
  });
});

describe('parseKnownHosts', () => {
  it('skips comments, blank and malformed lines and keeps line numbers', () => {
    const text = [
      '# operator notes',
      '',
      `kiel.example,10.1.0.7 ssh-ed25519 ${K1} root@kiel`,
      'broken-line-without-key',
      `   lübeck.example ssh-ed25519 not*base64`,
      `@unknown-marker * ssh-ed25519 ${K2}`,
      `\t[10.1.0.8]:2222 ecdsa-sha2-nistp256 ${K3_ECDSA}`,
    ].join('\n');
    const entries = parseKnownHosts(text, '/kh');
    expect(entries.map((e) => [e.line, e.keyType])).toEqual([
      [3, 'ssh-ed25519'],
      [7, 'ecdsa-sha2-nistp256'],
    ]);
    expect(entries[0].hosts).toEqual({ kind: 'patterns', patterns: ['kiel.example', '10.1.0.7'] });
  });

  it('reads a missing file as empty', async () => {
    expect(await readKnownHosts(path.join(os.tmpdir(), 'ozg-no-such-known-hosts-file'))).toEqual([]);
  });
});

describe('looking a host up in known_hosts', () => {
  const fleet = (hosts: number): string[] => Array.from({ length: hosts }, (_, i) => `[127.0.${i >> 8}.${i & 255}]:2222 ssh-ed25519 ${i % 2 ? K1 : K2}`);

  it('finds a host among 1,000 plain lines by name, testing none of them', () => {
    const index = indexKnownHosts(parseKnownHosts(fleet(1000).join('\n'), '/kh'));
    expect(index.lookup('127.0.3.231', 2222).map((e) => e.line)).toEqual([1000]);
    expect(index.lookup('127.0.3.231', 22)).toEqual([]);
    expect(index.tested).toBe(0);
  });

  it('finds exactly what a scan of every line finds, in file order: wildcards, negations, hashed names, markers, case', () => {
    const text = [
      ...fleet(3),
      `*.example,!evil.example ssh-ed25519 ${K1}`,
      HASHED,
      `@revoked [127.0.0.1]:2222 ssh-ed25519 ${K1}`,
      `Kiel.EXAMPLE,[127.0.0.2]:2222 ecdsa-sha2-nistp256 ${K3_ECDSA}`,
      `@cert-authority [127.0.0.?]:2222 ssh-ed25519 ${K2}`,
      `[127.0.0.1]:2222 ecdsa-sha2-nistp256 ${K3_ECDSA}`,
    ].join('\n');
    const entries = parseKnownHosts(text, '/kh');
    const index = indexKnownHosts(entries);
    const cases: Array<[string, number]> = [
      ['127.0.0.1', 2222], ['127.0.0.2', 2222], ['127.0.0.9', 2222], ['kiel.example', 22], ['KIEL.example', 22],
      ['evil.example', 22], ['10.0.0.5', 2222], ['gemeinde.example', 22], ['nowhere', 22],
    ];
    for (const [host, port] of cases) {
      const scanned = entries.filter((e) => matchesHost(e, host, port));
      expect([host, index.lookup(host, port)]).toEqual([host, scanned]);
      expect([host, entriesForHost(entries, host, port)]).toEqual([host, scanned]);
    }
    // the wildcard, both hashed and the cert-authority line are tested per lookup; the 5 plain ones never
    expect(index.tested).toBe(cases.length * 4);
  });
});

describe('readKnownHosts reuses its parse only for the very file it came from', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-known-hosts-cache-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  // as if the file was last written long ago (the cache trusts only files settled for a second)
  const later = { nowMs: () => Date.now() + 60_000 };

  it('parses a settled, unchanged file once per run, not once per connection', async () => {
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, `a.example ssh-ed25519 ${K1}\n`);
    const first = await readKnownHosts(file, later);
    expect(await readKnownHosts(file, later)).toBe(first);
  });

  it('reads again after an append, a same-size rewrite in place, a rename over it and a removal', async () => {
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, `a.example ssh-ed25519 ${K1}\n`);
    const first = await readKnownHosts(file, later);
    await appendKnownHost(file, 'b.example', 22, 'ssh-ed25519', k2, { hashed: false });
    const appended = await readKnownHosts(file, later);
    expect(appended).not.toBe(first);
    expect(appended.map((e) => e.key.equals(k2))).toEqual([false, true]);
    // same length, other key: only the file's times tell (set apart here: a real rewrite within
    // the same clock tick is what the one-second rule of the next test is for)
    await writeFile(file, `a.example ssh-ed25519 ${K2}\n`);
    await utimes(file, new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
    const rewritten = await readKnownHosts(file, later);
    expect(rewritten.map((e) => e.key.equals(k2))).toEqual([true]);
    const other = path.join(dir, 'other');
    await writeFile(other, `a.example ssh-ed25519 ${K1}\n`);
    await rename(other, file);
    expect((await readKnownHosts(file, later)).map((e) => e.key.equals(k1))).toEqual([true]);
    await rm(file);
    expect(await readKnownHosts(file, later)).toEqual([]);
  });

  it('never caches a file written within the last second: its times cannot tell a rewrite in the same tick', async () => {
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, `a.example ssh-ed25519 ${K1}\n`);
    const first = await readKnownHosts(file);
    const again = await readKnownHosts(file);
    expect(again).toEqual(first);
    expect(again).not.toBe(first);
  });
});

describe('appendKnownHost', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ozg-known-hosts-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the file 0600 (and its directory), writes [host]:port off port 22, never duplicates', async () => {
    const file = path.join(dir, 'nested', 'known_hosts');
    expect(await appendKnownHost(file, '10.1.0.8', 2222, 'ssh-ed25519', k1)).toBe(true);
    expect(await appendKnownHost(file, 'Kiel.example', 22, 'ssh-ed25519', k2)).toBe(true);
    expect(await appendKnownHost(file, '10.1.0.8', 2222, 'ssh-ed25519', k1)).toBe(false);
    expect(await readFile(file, 'utf8')).toBe(`[10.1.0.8]:2222 ssh-ed25519 ${K1}\nkiel.example ssh-ed25519 ${K2}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
  });

  it('serialises concurrent appends of one key into one line', async () => {
    const file = path.join(dir, 'known_hosts');
    const written = await Promise.all(Array.from({ length: 10 }, () => appendKnownHost(file, 'h.example', 22, 'ssh-ed25519', k1)));
    expect(written.filter(Boolean)).toHaveLength(1);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('adds a line break to a file whose last line has none, and leaves hashed matches alone', async () => {
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, HASHED);
    expect(await appendKnownHost(file, '10.0.0.5', 2222, 'ssh-ed25519', k1)).toBe(false);
    expect(await appendKnownHost(file, 'neu.example', 22, 'ecdsa-sha2-nistp256', k3)).toBe(true);
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(lines).toEqual([...HASHED.split('\n'), `neu.example ecdsa-sha2-nistp256 ${K3_ECDSA}`, '']);
  });

  it('writes hashed names with hashed: true, which ssh-style matching finds and which do not show the host', async () => {
    const file = path.join(dir, 'known_hosts');
    expect(await appendKnownHost(file, '10.1.0.8', 2222, 'ssh-ed25519', k1, { hashed: true })).toBe(true);
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 /);
    expect(text).not.toContain('10.1.0.8');
    const [entry] = parseKnownHosts(text, file);
    expect(matchesHost(entry, '10.1.0.8', 2222)).toBe(true);
    expect(matchesHost(entry, '10.1.0.8', 22)).toBe(false);
    // listed already (hashed): nothing more is written
    expect(await appendKnownHost(file, '10.1.0.8', 2222, 'ssh-ed25519', k1, { hashed: true })).toBe(false);
  });

  it('never adds a second key for a host:port that meanwhile has another one, whatever its type', async () => {
    const file = path.join(dir, 'known_hosts');
    await appendKnownHost(file, '10.1.0.8', 2222, 'ssh-ed25519', k1);
    await expect(appendKnownHost(file, '10.1.0.8', 2222, 'ecdsa-sha2-nistp256', k3)).rejects.toThrow(
      `${file}:1 meanwhile lists ssh-ed25519 ${K1_FINGERPRINT} for 10.1.0.8:2222, not the presented ecdsa-sha2-nistp256 ${K3_FINGERPRINT}`,
    );
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(1);
  });
});
