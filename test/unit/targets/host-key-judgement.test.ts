import { judgeHostKey, orderHostKeyAlgorithms, type HostKeyJudgement } from '../../../src/targets/ssh/host-key-judgement.js';
import { listKnownKeyTypes, parseKnownHosts, type KnownHostEntry } from '../../../src/targets/ssh/known-hosts.js';

// Keys and hashed names made with ssh-keygen (-t, -H), so the inputs are OpenSSH's own.
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIDZobCICjHPtr2BRL0bxSXB5mWo4ixfQbJefU1/vuZ3E';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIDW29heWZr5kKGBJzMkHnOO2e6e9W85eVymQmX1DOrFS';
const K3_ECDSA =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFZ9ftVlsc3aE6BDej8EGxgg1SRirglXa67bCtGtPL61ROuC18hu7EQLj22pzdNJ5rre/wqgwkPeW1GNs9TsTlk=';
const K4_RSA =
  'AAAAB3NzaC1yc2EAAAADAQABAAAAgQDRCx2TTg5qVbFubefJKY7s+Vu/QB7UG95DfsaaLU5NoaRMePy46QPhi1eBBav1IYUwjrBS37OlBFdEMWgzh1HlZ4IZgCQkO+xc2H8C9SdwOmgqgIMUYeCWJ7FoZvH5LG/jcLjfQVXfq0Fl5MnBmPHk4aBIXV4ferAmlXBUV2/AMw==';
/** `[10.0.0.5]:2222` → K1 and `gemeinde.example` → K2, hashed by `ssh-keygen -H` */
const HASHED = [
  `|1|FdigZ+Gb+iem/hm/oPfvQ9ktdF4=|DeKkHdP/H+WRxcR5/jiRWapmgTA= ssh-ed25519 ${K1}`,
  `|1|sTfsUtXWMuuxTW8Rc6RC853PQR8=|nAPWF0uHifsKmYAnxbiSiiiELpk= ssh-ed25519 ${K2}`,
].join('\n');

const k1 = Buffer.from(K1, 'base64');
const k2 = Buffer.from(K2, 'base64');
const k3 = Buffer.from(K3_ECDSA, 'base64');
const k4 = Buffer.from(K4_RSA, 'base64');

/** The judgement without --accept-new-host-keys, as one word. */
function status(entries: KnownHostEntry[], host: string, port: number, key: Buffer): string {
  const judgement = judgeHostKey(entries, host, port, key, { acceptNew: false });
  return judgement.action === 'connect' ? 'match' : judgement.action === 'refuse' ? judgement.reason : 'record';
}

describe('judgeHostKey', () => {
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
    expect(status(plain, 'kiel.example', 22, k1)).toBe('match');
    expect(status(plain, '10.1.0.7', 22, k1)).toBe('match');
    expect(status(plain, 'KIEL.example', 22, k1)).toBe('match');
    expect(status(plain, '10.1.0.8', 2222, k2)).toBe('match');
    expect(status(plain, '10.1.0.8', 2222, k3)).toBe('match');
  });

  it('keeps ports apart: a key for port 22 says nothing about port 2222 and back', () => {
    expect(status(plain, 'kiel.example', 2222, k1)).toBe('unknown');
    expect(status(plain, '10.1.0.8', 22, k2)).toBe('unknown');
  });

  it('calls a host:port with any known key that presents none of them changed, whatever the key type', () => {
    // same type, other key
    expect(judgeHostKey(plain, 'kiel.example', 22, k2, { acceptNew: false })).toEqual({
      action: 'refuse',
      reason: 'changed',
      keyType: 'ssh-ed25519',
      known: [expect.objectContaining({ line: 1, keyType: 'ssh-ed25519' })],
    });
    // ed25519 pinned, the server shows ECDSA or RSA: an impostor too, not a new host
    expect(status(plain, 'kiel.example', 22, k3)).toBe('changed');
    expect(status(plain, 'kiel.example', 22, k4)).toBe('changed');
    // several keys known (ed25519 and ECDSA): RSA matches neither, and both are reported
    const several = judgeHostKey(plain, '10.1.0.8', 2222, k4, { acceptNew: false });
    expect(several).toMatchObject({ action: 'refuse', reason: 'changed', keyType: 'ssh-rsa' });
    expect(several.action === 'refuse' && several.reason === 'changed' && several.known.map((e) => [e.line, e.keyType])).toEqual([
      [2, 'ssh-ed25519'],
      [3, 'ecdsa-sha2-nistp256'],
    ]);
    expect(status(plain, 'rendsburg.example', 22, k1)).toBe('unknown');
  });

  it('refuses a changed key even when new keys may be accepted; only a host with no key at all is recorded', () => {
    for (const key of [k2, k3, k4]) {
      expect(judgeHostKey(plain, 'kiel.example', 22, key, { acceptNew: true })).toMatchObject({ action: 'refuse', reason: 'changed' });
    }
    expect(judgeHostKey(plain, 'rendsburg.example', 22, k4, { acceptNew: true })).toEqual<HostKeyJudgement>({ action: 'record', keyType: 'ssh-rsa' });
    expect(judgeHostKey(plain, 'kiel.example', 22, k1, { acceptNew: true })).toMatchObject({ action: 'connect', entry: { line: 1 } });
  });

  it('honours wildcards and negated patterns', () => {
    expect(status(plain, 'vm1.amt-hohner-harde.example', 22, k1)).toBe('match');
    expect(status(plain, 'bastion.amt-hohner-harde.example', 22, k1)).toBe('unknown');
    expect(status(plain, 'web-1.example', 22, k2)).toBe('match');
    expect(status(plain, 'web-12.example', 22, k2)).toBe('unknown');
  });

  it('accepts any of several keys listed for one host', () => {
    const entries = parseKnownHosts(`h.example ssh-ed25519 ${K1}\nh.example ssh-ed25519 ${K2}\n`, '/kh');
    expect(status(entries, 'h.example', 22, k2)).toBe('match');
  });

  it('matches hashed names written by ssh-keygen -H, and judges them the same way', () => {
    const hashed = parseKnownHosts(HASHED, '/kh');
    expect(hashed[0].hosts.kind).toBe('hashed');
    expect(status(hashed, '10.0.0.5', 2222, k1)).toBe('match');
    expect(status(hashed, 'gemeinde.example', 22, k2)).toBe('match');
    expect(status(hashed, 'gemeinde.example', 22, k1)).toBe('changed');
    expect(status(hashed, 'gemeinde.example', 22, k4)).toBe('changed');
    expect(status(hashed, '10.0.0.5', 22, k1)).toBe('unknown');
  });

  it('refuses @revoked keys even with acceptNew, and ignores @cert-authority lines', () => {
    const entries = parseKnownHosts(
      [`@revoked * ssh-ed25519 ${K2}`, `kiel.example ssh-ed25519 ${K2}`, `@cert-authority *.example ssh-ed25519 ${K1}`].join('\n'),
      '/kh',
    );
    expect(judgeHostKey(entries, 'kiel.example', 22, k2, { acceptNew: true })).toMatchObject({ action: 'refuse', reason: 'revoked', entry: { line: 1 } });
    expect(judgeHostKey(entries, 'new.example', 22, k2, { acceptNew: true })).toMatchObject({ action: 'refuse', reason: 'revoked' });
    expect(status(entries, 'lübeck.example', 22, k1)).toBe('unknown');
    expect(listKnownKeyTypes(entries, 'kiel.example', 22)).toEqual(['ssh-ed25519']);
  });
});

describe('orderHostKeyAlgorithms', () => {
  it('offers the key types known for the host first, then the rest in the default order', () => {
    expect(orderHostKeyAlgorithms([])[0]).toBe('ssh-ed25519');
    expect(orderHostKeyAlgorithms(['ssh-rsa']).slice(0, 4)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
    expect(orderHostKeyAlgorithms(['ecdsa-sha2-nistp384', 'ssh-ed25519']).slice(0, 3)).toEqual(['ecdsa-sha2-nistp384', 'ssh-ed25519', 'ecdsa-sha2-nistp256']);
    // unknown types are not offered, and nothing is offered twice
    const order = orderHostKeyAlgorithms(['ssh-dss', 'ssh-ed25519']);
    expect(order).not.toContain('ssh-dss');
    expect(new Set(order).size).toBe(order.length);
  });
});
