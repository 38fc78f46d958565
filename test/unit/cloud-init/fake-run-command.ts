import { stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandResult, RunCommand, RunCommandOptions } from '../../../src/run-command.js';
import type { BuildSeedInput } from '../../../src/cloud-init/seed.js';

/** A real ed25519 pair made once with `ssh-keygen -t ed25519 -C fixture`; test use only. */
export const FIXED_ED25519 = {
  privateKey: [
    '-----BEGIN OPENSSH PRIVATE KEY-----',
    'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
    'QyNTUxOQAAACDd8QlOlKgZ+nAiXIzzR/YPQKSvm+XDM9DtmXiycFUjKgAAAJBemUlKXplJ',
    'SgAAAAtzc2gtZWQyNTUxOQAAACDd8QlOlKgZ+nAiXIzzR/YPQKSvm+XDM9DtmXiycFUjKg',
    'AAAECfGJHdsD80OUH36US4CSHJSbrLcmpKnl1K3lC/C16t/N3xCU6UqBn6cCJcjPNH9g9A',
    'pK+b5cMz0O2ZeLJwVSMqAAAAB2ZpeHR1cmUBAgMEBQY=',
    '-----END OPENSSH PRIVATE KEY-----',
    '',
  ].join('\n'),
  publicBase64: 'AAAAC3NzaC1lZDI1NTE5AAAAIN3xCU6UqBn6cCJcjPNH9g9ApK+b5cMz0O2ZeLJwVSMq',
  /** what `ssh-keygen -lf` prints for it */
  fingerprint: 'SHA256:/xbJxN06bqFR1G45AsTbwDZ1XOZKnDuWNcISnTOHiEY',
};

export interface FakeCall {
  file: string;
  args: readonly string[];
  options?: RunCommandOptions;
  /** mode of the directory the key was written to, seen at call time */
  dirMode?: number;
}

/**
 * A RunCommand that plays ssh-keygen by writing the fixed key pair where `-f` points.
 * `answer` decides for any other program (default: not installed).
 */
export function createFakeRunCommand(answer?: (file: string, args: readonly string[], options?: RunCommandOptions) => Promise<CommandResult>): {
  runCommand: RunCommand;
  calls: FakeCall[];
} {
  const calls: FakeCall[] = [];
  const runCommand: RunCommand = async (file, args, options) => {
    const call: FakeCall = { file, args, options };
    calls.push(call);
    if (file === 'ssh-keygen' && args[args.indexOf('-t') + 1] === 'ed25519') {
      const target = args[args.indexOf('-f') + 1]!;
      const comment = args[args.indexOf('-C') + 1]!;
      call.dirMode = (await stat(dirname(target))).mode & 0o777;
      await writeFile(target, FIXED_ED25519.privateKey, { mode: 0o600 });
      await writeFile(`${target}.pub`, `ssh-ed25519 ${FIXED_ED25519.publicBase64} ${comment}\n`);
      return { exitCode: 0, stdout: '', stderr: '', durationMs: 1 };
    }
    if (answer) return answer(file, args, options);
    return { exitCode: null, stdout: '', stderr: '', durationMs: 0, notFound: true };
  };
  return { runCommand, calls };
}

export function createSeedInput(overrides: Partial<BuildSeedInput> = {}): BuildSeedInput {
  return {
    site: { name: 'kiel' },
    environment: 'test',
    hostname: 'kiel-test-1',
    operatorPublicKeys: [`ssh-ed25519 ${FIXED_ED25519.publicBase64} operator@admin`],
    sudo: true,
    packages: ['ca-certificates', 'curl', 'tar'],
    deployRoot: '/opt/ozg',
    hostAddress: '10.0.0.5',
    hostPort: 2222,
    ...overrides,
  };
}
