import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  appendKnownHost,
  checkHostKey,
  formatFingerprint,
  listKnownKeyTypes,
  parseKnownHosts,
  readKeyType,
  readKnownHosts,
  verifyHostKey,
} from '../../../src/targets/ssh/known-hosts.js';

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

describe('checkHostKey', () => {
  const plain = parseKnownHosts(
    [
      `kiel.example,10.1.0.7 ssh-ed25519 ${K1}`,
      `[10.1.0.8]:2222 ssh-ed25519 ${K2}`,
      `[10.1.0.8]:2222 ecdsa-sha2-nistp256 ${K3_ECDSA}`,
      `*.amt-hohner-harde.example,!bastion.amt-hohner-harde.example ssh-ed25519 ${K1}`,
      `web-?.example ssh-ed25519 ${K2}`,
    ].join('\n'),
    '/kh',
  );

  it('matches plain names, comma lists and the [host]:port form', () => {
    expect(checkHostKey(plain, 'kiel.example', 22, 'ssh-ed25519', k1)).toBe('match');
    expect(checkHostKey(plain, '10.1.0.7', 22, 'ssh-ed25519', k1)).toBe('match');
    expect(checkHostKey(plain, 'KIEL.example', 22, 'ssh-ed25519', k1)).toBe('match');
    expect(checkHostKey(plain, '10.1.0.8', 2222, 'ssh-ed25519', k2)).toBe('match');
    expect(checkHostKey(plain, '10.1.0.8', 2222, 'ecdsa-sha2-nistp256', k3)).toBe('match');
  });

  it('keeps ports apart: a key for port 22 says nothing about port 2222 and back', () => {
    expect(checkHostKey(plain, 'kiel.example', 2222, 'ssh-ed25519', k1)).toBe('unknown');
    expect(checkHostKey(plain, '10.1.0.8', 22, 'ssh-ed25519', k2)).toBe('unknown');
  });

  it('reports changed for another key of the same type, unknown for a type not listed', () => {
    const verdict = verifyHostKey(plain, 'kiel.example', 22, 'ssh-ed25519', k2);
    expect(verdict.status).toBe('changed');
    expect(verdict.entry?.line).toBe(1);
    expect(checkHostKey(plain, 'kiel.example', 22, 'ecdsa-sha2-nistp256', k3)).toBe('unknown');
    expect(checkHostKey(plain, 'rendsburg.example', 22, 'ssh-ed25519', k1)).toBe('unknown');
  });

  it('honours wildcards and negated patterns', () => {
    expect(checkHostKey(plain, 'vm1.amt-hohner-harde.example', 22, 'ssh-ed25519', k1)).toBe('match');
    expect(checkHostKey(plain, 'bastion.amt-hohner-harde.example', 22, 'ssh-ed25519', k1)).toBe('unknown');
    expect(checkHostKey(plain, 'web-1.example', 22, 'ssh-ed25519', k2)).toBe('match');
    expect(checkHostKey(plain, 'web-12.example', 22, 'ssh-ed25519', k2)).toBe('unknown');
  });

  it('accepts any of several keys listed for one host', () => {
    const entries = parseKnownHosts(`h.example ssh-ed25519 ${K1}\nh.example ssh-ed25519 ${K2}\n`, '/kh');
    expect(checkHostKey(entries, 'h.example', 22, 'ssh-ed25519', k2)).toBe('match');
  });

  it('matches hashed names written by ssh-keygen -H', () => {
    const hashed = parseKnownHosts(HASHED, '/kh');
    expect(hashed[0].hosts.kind).toBe('hashed');
    expect(checkHostKey(hashed, '10.0.0.5', 2222, 'ssh-ed25519', k1)).toBe('match');
    expect(checkHostKey(hashed, 'gemeinde.example', 22, 'ssh-ed25519', k2)).toBe('match');
    expect(checkHostKey(hashed, 'gemeinde.example', 22, 'ssh-ed25519', k1)).toBe('changed');
    expect(checkHostKey(hashed, '10.0.0.5', 22, 'ssh-ed25519', k1)).toBe('unknown');
  });

  it('refuses @revoked keys and ignores @cert-authority lines', () => {
    const entries = parseKnownHosts(
      [`@revoked * ssh-ed25519 ${K2}`, `kiel.example ssh-ed25519 ${K2}`, `@cert-authority *.example ssh-ed25519 ${K1}`].join('\n'),
      '/kh',
    );
    const verdict = verifyHostKey(entries, 'kiel.example', 22, 'ssh-ed25519', k2);
    expect(verdict).toMatchObject({ status: 'revoked', entry: { line: 1 } });
    expect(checkHostKey(entries, 'lübeck.example', 22, 'ssh-ed25519', k1)).toBe('unknown');
    expect(listKnownKeyTypes(entries, 'kiel.example', 22)).toEqual(['ssh-ed25519']);
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
});
