/**
 * The small shell transport the VM driver is written over. `local` runs commands on this
 * machine (execa); `ssh` runs them on a VM (node-ssh). Both see the same scripts.
 */
import type { Readable } from 'node:stream';

export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** true when the command was killed because it ran past `timeoutMs` (exitCode is then null) */
  timedOut?: boolean;
  /**
   * Output is kept only up to its last OUTPUT_TAIL_BYTES per stream (output-tail.ts); these
   * count the bytes dropped before that, also named in a first `… N bytes dropped` line.
   */
  stdoutDroppedBytes?: number;
  stderrDroppedBytes?: number;
}

export interface ExecOptions {
  /**
   * bytes written to the command's stdin (e.g. an archive). A stream is piped as it is read
   * (a release archive with large blobs); if it fails, the exec rejects with its error once
   * the command has ended, and the transport destroys it when the command ends first.
   */
  stdin?: Buffer | string | Readable;
  timeoutMs?: number;
}

export interface ShellTransport {
  /** host or directory, for messages */
  readonly where: string;
  /** run one POSIX sh script; never throws for a non-zero exit, only for transport faults */
  exec(script: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Optional fast path for reading one small file (the live marker): the contents, or
   * undefined when it does not exist. The local transport reads it directly, saving a
   * process start per target (~20 ms here), which decides how fast `plan` is over 1,000
   * sites; remote transports leave it out and the driver cats the file in one exec.
   */
  readFile?(path: string): Promise<string | undefined>;
  close(): Promise<void>;
}
