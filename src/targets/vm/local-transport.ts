import { readFileSync, statSync } from 'node:fs';
import { UnreachableError } from '../../errors.js';
import type { ExecOptions, ExecResult, ShellTransport } from './transport.js';
import { createScriptEnvironment } from './script-environment.js';

export interface CreateLocalTransportOptions {
  /** the directory this transport serves, for messages */
  where: string;
  /** ozg's environment: scripts get only PATH, HOME and the locale of it (script-environment.ts) */
  env?: Record<string, string | undefined>;
}

/** The `local` transport: every script runs as `sh -c <script>` on this machine. */
export function createLocalTransport(options: CreateLocalTransportOptions): ShellTransport {
  const { where } = options;
  const running = new Set<number>();

  async function exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
    const started = performance.now();
    // loaded on first use: `plan` and `status` only read markers and never start a process
    const { execa } = await import('execa');
    const child = execa('sh', ['-c', script], {
      // Without stdin from the caller the script reads /dev/null, never ozg's own terminal.
      ...(execOptions.stdin === undefined ? { stdin: 'ignore' as const } : { input: execOptions.stdin }),
      env: createScriptEnvironment(options.env ?? {}),
      extendEnv: false,
      reject: false,
      stripFinalNewline: false,
      // Its own process group, so a timeout can kill what the script started too: a
      // background grandchild holding stdout open would otherwise keep us waiting.
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) running.add(pid);
    let timedOut = false;
    const timer =
      execOptions.timeoutMs === undefined || pid === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup(pid);
          }, execOptions.timeoutMs);
    const result = await child;
    if (timer) clearTimeout(timer);
    if (pid !== undefined) running.delete(pid);
    const durationMs = Math.round(performance.now() - started);

    if (result.exitCode === undefined && result.signal === undefined) {
      throw new UnreachableError(where, `cannot run sh on this machine: ${result.shortMessage ?? 'spawn failed'}`, {
        cause: result.cause,
        hint: 'check that /bin/sh exists and that this process may start programs',
      });
    }
    return {
      exitCode: result.exitCode ?? null,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      durationMs,
      ...(timedOut ? { timedOut } : {}),
    };
  }

  async function close(): Promise<void> {
    // Nothing is pooled locally; only scripts still running (after Ctrl-C) need ending.
    for (const pid of running) killGroup(pid);
    running.clear();
  }

  /**
   * Synchronous on purpose: `plan` reads the marker of every target, mostly missing or a few
   * hundred bytes on a local disk. The promise API cost a thread-pool round trip and, for a
   * missing file, an exception each (~0.1 ms of CPU per target); a stat that does not throw
   * and a small read cost a few microseconds.
   */
  async function readFile(path: string): Promise<string | undefined> {
    if (!statSync(path, { throwIfNoEntry: false })) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      // removed between the stat and the read: as missing as before
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  return { where, exec, readFile, close };
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
