/**
 * The one way the cloud-init module starts local programs (ssh-keygen, the ISO tools), so
 * tests can pass a hand-written fake instead of spawning anything.
 */
import { elapsedMs, systemClock } from '../clock.js';

/** Outcome of one local program run; `notFound` when the program is not installed. */
export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  notFound?: boolean;
}

export interface RunCommandOptions {
  cwd?: string;
  timeoutMs?: number;
}

/** Runs `file` with `args` (no shell) and never throws for a non-zero exit. */
export type RunCommand = (file: string, args: readonly string[], options?: RunCommandOptions) => Promise<CommandResult>;

/** The real RunCommand: execa, loaded only when a command actually runs. */
export const runCommandWithExeca: RunCommand = async (file, args, options = {}) => {
  const { execa } = await import('execa');
  const started = systemClock.monotonicMs();
  const result = await execa(file, [...args], {
    cwd: options.cwd,
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  const durationMs = elapsedMs(systemClock, started);
  const spawnCode = (result.cause as NodeJS.ErrnoException | undefined)?.code;
  if (result.exitCode === undefined && result.signal === undefined && spawnCode === 'ENOENT') {
    return { exitCode: null, stdout: '', stderr: '', durationMs, notFound: true };
  }
  return {
    exitCode: result.exitCode ?? null,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? '') || (result.exitCode === undefined ? (result.shortMessage ?? '') : ''),
    durationMs,
  };
};
