import { UsageError } from '../../../src/errors.js';
import { mergeKnownHosts } from '../../../src/cloud-init/known-hosts.js';

// K_OLD's hashed line was made with `ssh-keygen -H` for `[10.0.0.5]:2222`.
const K_OLD = 'AAAAC3NzaC1lZDI1NTE5AAAAIDZobCICjHPtr2BRL0bxSXB5mWo4ixfQbJefU1/vuZ3E';
const K_NEW = 'AAAAC3NzaC1lZDI1NTE5AAAAIN3xCU6UqBn6cCJcjPNH9g9ApK+b5cMz0O2ZeLJwVSMq';
const HASHED_OLD = `|1|cPFDfhMbRDFgvOiEdFhxQwqxgDE=|plyun3ON4XdueSWyyIHQxUYXBTM= ssh-ed25519 ${K_OLD}`;
const HOST = '[10.0.0.5]:2222';
const NEW_LINE = `${HOST} ssh-ed25519 ${K_NEW}`;
const FILE = '/home/op/.ozg/known_hosts';

describe('mergeKnownHosts', () => {
  it('appends to an empty file and keeps everything else byte for byte', () => {
    expect(mergeKnownHosts('', [NEW_LINE], { replace: false, file: FILE })).toEqual({ text: NEW_LINE + '\n', status: 'added' });
    const existing = `# operators' file\n\nother.example ssh-ed25519 ${K_OLD} comment\n@cert-authority *.example ssh-ed25519 ${K_OLD}`;
    expect(mergeKnownHosts(existing, [NEW_LINE], { replace: false, file: FILE })).toEqual({ text: `${existing}\n${NEW_LINE}\n`, status: 'added' });
  });

  it('adds no duplicate when the key is already pinned', () => {
    const existing = `${NEW_LINE}\n`;
    expect(mergeKnownHosts(existing, [NEW_LINE], { replace: false, file: FILE })).toEqual({ text: existing, status: 'unchanged' });
    // the same host on port 22 is a different known_hosts name: not ours
    const port22 = `10.0.0.5 ssh-ed25519 ${K_OLD}\n`;
    expect(mergeKnownHosts(port22, [NEW_LINE], { replace: false, file: FILE }).status).toBe('added');
  });

  it('refuses a different key pinned for the host unless told to replace it', () => {
    const existing = `a.example ssh-ed25519 ${K_OLD}\n${HOST} ssh-ed25519 ${K_OLD}\n`;
    let error: unknown;
    try {
      mergeKnownHosts(existing, [NEW_LINE], { replace: false, file: FILE });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(`${FILE} already pins a different host key for ${HOST} (line 2)`);
    expect((error as Error).message).toContain('re-seeded');
    expect((error as UsageError).hint).toContain('--replace');

    expect(mergeKnownHosts(existing, [NEW_LINE], { replace: true, file: FILE })).toEqual({
      text: `a.example ssh-ed25519 ${K_OLD}\n${NEW_LINE}\n`,
      status: 'replaced',
    });
  });

  it('treats another key type for the host as stale too, and recognizes hashed names', () => {
    const rsa = `${HOST} ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC\n`;
    expect(() => mergeKnownHosts(rsa, [NEW_LINE], { replace: false, file: FILE })).toThrow(/line 1/);
    expect(() => mergeKnownHosts(HASHED_OLD, [NEW_LINE], { replace: false, file: FILE })).toThrow(UsageError);
    expect(mergeKnownHosts(HASHED_OLD, [NEW_LINE], { replace: true, file: FILE }).text).toBe(`${NEW_LINE}\n`);
    // a hashed line for another host is left alone
    expect(mergeKnownHosts(HASHED_OLD, [`[10.0.0.6]:2222 ssh-ed25519 ${K_NEW}`], { replace: false, file: FILE }).status).toBe('added');
  });

  it('on replace removes only this host from a line naming several hosts', () => {
    const existing = `a.example,${HOST},B.example ssh-ed25519 ${K_OLD} note\n`;
    expect(mergeKnownHosts(existing, [NEW_LINE], { replace: true, file: FILE }).text).toBe(`a.example,B.example ssh-ed25519 ${K_OLD} note\n${NEW_LINE}\n`);
  });
});
