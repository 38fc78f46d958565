import { readFile as readFileFromDisk } from 'node:fs/promises';
import { execa } from 'execa';
import { UnreachableError } from '../../errors.js';
import type { ExecOptions, ExecResult, ShellTransport } from './transport.js';

export interface CreateLocalTransportOptions {
  /** the directory this transport serves, for messages */
  where: string;
  /** extra environment variables for every command, on top of this process's environment */
  env?: Record<string, string | undefined>;
}

/** The `local` transport: every script runs as `sh -c <script>` on this machine. */
export function createLocalTransport(options: CreateLocalTransportOptions): ShellTransport {
  const { where } = options;
  const running = new Set<number>();

  async function exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
    const started = performance.now();
    const child = execa('sh', ['-c', script], {
      // Without stdin from the caller the script reads /dev/null, never ozg's own terminal.
      ...(execOptions.stdin === undefined ? { stdin: 'ignore' as const } : { input: execOptions.stdin }),
      env: options.env,
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

  async function readFile(path: string): Promise<string | undefined> {
    try {
      return await readFileFromDisk(path, 'utf8');
    } catch (error) {
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
