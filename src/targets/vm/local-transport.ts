import { readFileSync, statSync } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { UnreachableError } from '../../errors.js';
import { isErrnoCode } from '../../system-error.js';
import { createOutputTail, droppedCounts } from './output-tail.js';
import type { ExecOptions, ExecResult, ShellTransport } from './transport.js';
import { createScriptEnvironment } from './script-environment.js';

export interface CreateLocalTransportOptions {
  /** the directory this transport serves, for messages */
  where: string;
  /** ozg's environment: scripts get only PATH, HOME and the locale of it (script-environment.ts) */
  env?: Record<string, string | undefined>;
  /** how long close() lets a running script end on SIGTERM before it SIGKILLs its process group (default 2 s) */
  killGraceMs?: number;
}

/** The `local` transport: every script runs as `sh -c <script>` on this machine. */
export function createLocalTransport(options: CreateLocalTransportOptions): ShellTransport {
  const { where } = options;
  // pid (= process group id) of every running script, and when it has ended
  const running = new Map<number, Promise<unknown>>();
  const killGraceMs = options.killGraceMs ?? 2_000;

  async function exec(script: string, execOptions: ExecOptions = {}): Promise<ExecResult> {
    const started = performance.now();
    // loaded on first use: `plan` and `status` only read markers and never start a process
    const { execa } = await import('execa');
    const input = execOptions.stdin;
    const streamed = input instanceof Readable ? input : undefined;
    const child = execa('sh', ['-c', script], {
      // Without stdin from the caller the script reads /dev/null, never ozg's own terminal.
      ...(input === undefined ? { stdin: 'ignore' as const } : streamed ? { stdin: 'pipe' as const } : { input }),
      env: createScriptEnvironment(options.env ?? {}),
      extendEnv: false,
      reject: false,
      // read below into bounded tails instead of execa's unbounded buffers
      buffer: false,
      // Its own process group, so a timeout can kill what the script started too: a
      // background grandchild holding stdout open would otherwise keep us waiting.
      detached: true,
    });
    const pid = child.pid;
    if (pid !== undefined) running.set(pid, child.then(() => undefined, () => undefined));
    const feeding = streamed && child.stdin ? feedStdin(streamed, child.stdin) : undefined;
    const stdout = createOutputTail();
    const stderr = createOutputTail();
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    let timedOut = false;
    const timer =
      execOptions.timeoutMs === undefined || pid === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            killGroup(pid, 'SIGKILL');
          }, execOptions.timeoutMs);
    const result = await child;
    if (timer) clearTimeout(timer);
    if (pid !== undefined) running.delete(pid);
    // the script may end before reading all of it (a failed step): stop reading its source
    streamed?.destroy();
    const streamError = await feeding;
    if (streamError) throw streamError;
    const durationMs = Math.round(performance.now() - started);

    if (result.exitCode === undefined && result.signal === undefined) {
      throw new UnreachableError(where, `cannot run sh on this machine: ${result.shortMessage ?? 'spawn failed'}`, {
        cause: result.cause,
        hint: 'check that /bin/sh exists and that this process may start programs',
      });
    }
    return {
      exitCode: result.exitCode ?? null,
      stdout: stdout.text(),
      stderr: stderr.text(),
      durationMs,
      ...(timedOut ? { timedOut } : {}),
      ...droppedCounts(stdout, stderr),
    };
  }

  /**
   * Nothing is pooled locally; only scripts still running (a second Ctrl-C) need ending. Each
   * is a process group of its own, which the terminal's Ctrl-C never reaches: SIGTERM to the
   * group, SIGKILL after a grace, and close() returns once the scripts have ended, so the
   * caller can release the lock knowing no install still runs.
   */
  async function close(): Promise<void> {
    const scripts = [...running];
    running.clear();
    await Promise.all(
      scripts.map(async ([pid, ended]) => {
        killGroup(pid, 'SIGTERM');
        if (await settlesWithin(ended, killGraceMs)) return;
        killGroup(pid, 'SIGKILL');
        // a grandchild that left the group could hold stdout open for ever: do not wait on it
        await settlesWithin(ended, killGraceMs);
      }),
    );
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
      if (isErrnoCode(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  return { where, exec, readFile, close };
}

/**
 * Pipes `source` into the script's stdin. Resolves with the source's own error, if it failed
 * (a blob unreadable on this machine), else undefined; the script's early exit (EPIPE) is not one.
 */
function feedStdin(source: Readable, stdin: Writable): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let failed: Error | undefined;
    stdin.on('error', () => undefined);
    source.once('error', (error) => {
      failed = error;
      stdin.destroy();
    });
    source.once('close', () => resolve(failed));
    source.pipe(stdin);
  });
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = await Promise.race([promise.then(() => true), timeout]);
  clearTimeout(timer);
  return settled;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
