/**
 * The channel runner: one script on one session channel of an open SSH connection, its output
 * kept as tails, its timeout enforced with TERM then KILL, and a connection that drops under
 * it reported as such.
 */
import { Readable } from 'node:stream';
import { UnreachableError } from '../../errors.js';
import { quoteShell } from '../../shell-quote.js';
import { createOutputTail, droppedCounts } from '../vm/output-tail.js';
import type { ExecOptions, ExecResult } from '../vm/transport.js';
import type { Ssh2Channel } from './ssh-connect.js';
import type { Connection } from './ssh-connection.js';

/** Counters for benchmarks: every SSH handshake (bastion hops included) and every exec. */
export interface SshTransportStats {
  connects: number;
  execs: number;
  /** command text plus stdin bytes sent */
  bytesSent: number;
}

export interface RunOnChannelContext {
  /** how messages name the target */
  where: string;
  /** `user@host:port` of the target */
  targetLabel: string;
  /** run the script as root through `sudo -n` */
  sudo: boolean;
  stats: SshTransportStats;
}

/**
 * Runs the script ($1) as root so that a TERM (which sudo relays to its command) ends the
 * script's whole process group: the login user cannot signal root processes, and sudo
 * relays only to the command itself, which would orphan what the script started. The script
 * is a background job, so its stdin is passed explicitly (fd 3) instead of /dev/null.
 */
const SUDO_WRAPPER = `trap 'trap - TERM; kill -TERM 0 2>/dev/null; exit 143' TERM
{ sh -c "$1" 0<&3 3<&- & } 3<&0
wait $!`;
/** after TERM, how long a timed-out script has before KILL; after KILL, how long the channel has to close */
const KILL_AFTER_MS = 500;
const CLOSE_AFTER_MS = 2_000;

/** The command line sent for a script: `exec` makes the login shell become the command, so a signal that ends it is reported as one. */
export function buildRemoteCommand(script: string, sudo: boolean): string {
  return sudo ? `exec sudo -n sh -c ${quoteShell(SUDO_WRAPPER)} ozg ${quoteShell(script)}` : `exec sh -c ${quoteShell(script)}`;
}

export function runOnChannel(connection: Connection, script: string, execOptions: ExecOptions, context: RunOnChannelContext): Promise<ExecResult> {
  const command = buildRemoteCommand(script, context.sudo);
  const input = execOptions.stdin;
  const streamed = input instanceof Readable ? input : undefined;
  // a Buffer goes out as it is: Buffer.from(buffer) would copy a whole release per apply
  const stdin = typeof input === 'string' ? Buffer.from(input) : Buffer.isBuffer(input) ? input : undefined;
  if (connection.lost) {
    streamed?.destroy();
    return Promise.reject(lostError(context.where, connection.lost, 0));
  }
  context.stats.execs++;
  context.stats.bytesSent += Buffer.byteLength(command) + (streamed ? 0 : (stdin?.length ?? 0));
  let streamError: Error | undefined;
  streamed?.once('error', (error) => (streamError = error));
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);

  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false;
    const timers = new Set<NodeJS.Timeout>();
    const settle = (action: () => void): void => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      connection.running.delete(onLost);
      // the script may end before reading all of it (a failed step): stop reading its source
      streamed?.destroy();
      action();
    };
    const onLost = (reason: string): void => settle(() => reject(lostError(context.where, reason, elapsed())));
    connection.running.add(onLost);

    connection.client.exec(command, (error, channel) => {
      if (error) {
        const failure = connection.lost
          ? lostError(context.where, connection.lost, elapsed())
          : new UnreachableError(context.where, `cannot start a command on ${context.targetLabel}: ${error.message}`, { cause: error });
        settle(() => reject(failure));
        return;
      }
      const finish = (result: ExecResult): void => settle(() => (streamError ? reject(streamError) : resolve(result)));
      watchChannel(channel, { connection, targetLabel: context.targetLabel, timeoutMs: execOptions.timeoutMs, timers, elapsed, onLost, finish });
      if (streamed) {
        // a failed source ends the channel's input early: the script sees a cut archive and fails
        streamed.once('error', () => channel.end());
        // counted as it goes out, so a benchmark sees what really crossed the wire; a 'data'
        // listener starts the flow, so it is added only now, together with the pipe
        streamed.on('data', (chunk: Buffer) => (context.stats.bytesSent += chunk.length));
        streamed.pipe(channel);
      } else channel.end(stdin);
    });
  });
}

interface WatchChannelOptions {
  connection: Connection;
  targetLabel: string;
  timeoutMs?: number;
  /** cleared when the exec settles */
  timers: Set<NodeJS.Timeout>;
  elapsed: () => number;
  onLost: (reason: string) => void;
  finish: (result: ExecResult) => void;
}

/** Collects a started channel's output and exit, and ends it once it outlives its timeout. */
function watchChannel(channel: Ssh2Channel, options: WatchChannelOptions): void {
  const { connection, onLost } = options;
  const stdout = createOutputTail();
  const stderr = createOutputTail();
  let exitCode: number | null = null;
  let exited = false;
  let timedOut = false;
  channel.on('data', (chunk: Buffer) => stdout.push(chunk));
  channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  channel.on('exit', (code: number | null) => {
    exited = true;
    exitCode = typeof code === 'number' ? code : null;
  });
  const finish = (): void =>
    options.finish({
      exitCode: timedOut ? null : exitCode,
      // decoded once at the end: a chunk boundary may split a multi-byte character
      stdout: stdout.text(),
      stderr: stderr.text(),
      durationMs: options.elapsed(),
      ...(timedOut ? { timedOut } : {}),
      ...droppedCounts(stdout, stderr),
    });
  channel.on('close', () => {
    if (exited || timedOut) finish();
    // sshd always reports an exit status or signal before closing a session it ran
    // to the end; a close without one means the connection went away under it.
    else if (connection.lost) onLost(connection.lost);
    else setImmediate(() => (connection.lost ? onLost(connection.lost) : onLost(`${options.targetLabel} closed the session without an exit status`)));
  });
  channel.on('error', () => undefined);
  if (options.timeoutMs === undefined) return;
  const later = (ms: number, action: () => void): void => {
    options.timers.add(setTimeout(action, ms));
  };
  later(options.timeoutMs, () => {
    timedOut = true;
    exitCode = null;
    // sshd delivers the signal to the command's process group, so what the script
    // started dies with it (except processes running as another user, e.g. via sudo).
    // TERM first: sudo relays it to a root command, which a KILL from the login user cannot reach.
    sendSignal(channel, 'TERM');
    later(KILL_AFTER_MS, () => {
      sendSignal(channel, 'KILL');
      try {
        channel.close();
      } catch {
        // the channel is already going away
      }
      later(CLOSE_AFTER_MS, finish);
    });
  });
}

function lostError(where: string, reason: string, durationMs: number): UnreachableError {
  return new UnreachableError(where, `${reason} (while running a command, after ${durationMs} ms)`, {
    hint: 'the command may have run partly; `ozg status` shows what the target reports now',
  });
}

/**
 * ssh2's channel.signal() sends nothing once stdin was ended (it checks `writable`), though
 * SSH allows a signal request on any open session; ours always end stdin, so go one level down.
 */
function sendSignal(channel: Ssh2Channel, name: 'TERM' | 'KILL'): void {
  const internal = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
  };
  try {
    const protocol = internal._client?._protocol;
    if ((internal.outgoing?.state === 'open' || internal.outgoing?.state === 'eof') && typeof protocol?.signal === 'function') protocol.signal(internal.outgoing.id, name);
    else channel.signal(name);
  } catch {
    // the channel or connection is already gone
  }
}
