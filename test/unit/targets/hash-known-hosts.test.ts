import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createHashKnownHostsDecision, parseHashKnownHosts, type RunSsh } from '../../../src/targets/ssh/hash-known-hosts.js';

describe('whether recorded host keys are hashed', () => {
  it("follows `ssh -G`'s hashknownhosts for the host, asking once per host:port", async () => {
    const asked: string[][] = [];
    const runSsh: RunSsh = async (args) => {
      asked.push(args);
      return { exitCode: 0, stdout: `user root\nhashknownhosts ${args.at(-1) === 'hashing.example' ? 'yes' : 'no'}\nport ${args[2]}\n` };
    };
    const decide = createHashKnownHostsDecision({ env: {}, runSsh });
    expect(await decide('hashing.example', 22)).toBe(true);
    expect(await decide('plain.example', 2222)).toBe(false);
    expect(await decide('hashing.example', 22)).toBe(true);
    expect(asked).toEqual([
      ['-G', '-p', '22', 'hashing.example'],
      ['-G', '-p', '2222', 'plain.example'],
    ]);
  });

  it('writes plain lines without OpenSSH, hashed ones when ssh cannot read its configuration', async () => {
    expect(await createHashKnownHostsDecision({ env: {}, runSsh: async () => undefined })('h.example', 22)).toBe(false);
    expect(await createHashKnownHostsDecision({ env: {}, runSsh: async () => ({ exitCode: 255, stdout: '' }) })('h.example', 22)).toBe(true);
  });

  it('lets OZG_HASH_KNOWN_HOSTS=yes|no override ssh, and refuses other values', async () => {
    const runSsh: RunSsh = async () => {
      throw new Error('ssh must not be asked');
    };
    expect(await createHashKnownHostsDecision({ env: { OZG_HASH_KNOWN_HOSTS: 'yes' }, runSsh })('h.example', 22)).toBe(true);
    expect(await createHashKnownHostsDecision({ env: { OZG_HASH_KNOWN_HOSTS: 'no' }, runSsh })('h.example', 22)).toBe(false);
    await expect(createHashKnownHostsDecision({ env: { OZG_HASH_KNOWN_HOSTS: 'sometimes' }, runSsh })('h.example', 22)).rejects.toThrow(
      'OZG_HASH_KNOWN_HOSTS must be yes or no, not "sometimes"',
    );
  });

  it("reads the real `ssh -G` output of this machine's OpenSSH", async () => {
    const { stdout } = await promisify(execFile)('ssh', ['-G', '-p', '2222', '127.0.0.1']).catch((error: Error) => {
      throw new Error(`ssh -G failed (${error.message}); install the client with: apt-get install -y openssh-client`);
    });
    const expected = /^hashknownhosts yes$/m.test(stdout);
    expect(parseHashKnownHosts(stdout)).toBe(expected);
    expect(await createHashKnownHostsDecision({ env: process.env })('127.0.0.1', 2222)).toBe(expected);
  });
});
