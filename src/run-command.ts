/**
 * The one way ozg starts local programs (ssh-keygen and the ISO tools for cloud-init, helm
 * for charts), so tests can pass a hand-written fake instead of spawning anything.
 */
import { elapsedMs, systemClock } from './clock.js';

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
  /** exactly this environment, nothing inherited (default: ozg's own environment) */
  env?: Record<string, string>;
  /** most bytes kept of stdout and of stderr (execa's default, 100 MB, otherwise) */
  maxBuffer?: number;
}

/** Runs `file` with `args` (no shell) and never throws for a non-zero exit. */
export type RunCommand = (file: string, args: readonly string[], options?: RunCommandOptions) => Promise<CommandResult>;

/** The real RunCommand: execa, loaded only when a command actually runs. */
export const runCommandWithExeca: RunCommand = async (file, args, options = {}) => {
  const { execa } = await import('execa');
  const started = systemClock.monotonicMs();
  const result = await execa(file, [...args], {
    cwd: options.cwd,
    ...(options.env ? { env: options.env, extendEnv: false } : {}),
    ...(options.maxBuffer === undefined ? {} : { maxBuffer: options.maxBuffer }),
    reject: false,
    stdin: 'ignore',
    stripFinalNewline: false,
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  const durationMs = elapsedMs(systemClock, started);
  // not started at all: missing, not executable, or a path through a file
  const spawnCode = (result.cause as NodeJS.ErrnoException | undefined)?.code;
  if (result.exitCode === undefined && result.signal === undefined && (spawnCode === 'ENOENT' || spawnCode === 'EACCES' || spawnCode === 'ENOTDIR')) {
    return { exitCode: null, stdout: '', stderr: '', durationMs, notFound: true };
  }
  return {
    exitCode: result.exitCode ?? null,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? '') || (result.exitCode === undefined ? (result.shortMessage ?? '') : ''),
    durationMs,
  };
};
