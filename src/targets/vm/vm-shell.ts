import { OzgError, RemoteCommandError, UnreachableError, type OzgErrorOptions } from '../../errors.js';
import type { EnvironmentName } from '../../inventory/types.js';
import { ArchiveSourceError } from './archive.js';
import type { ExecOptions, ExecResult, ShellTransport } from './transport.js';

/** A VM target's transport as the driver uses it: transport faults and failed steps become ozg errors. */
export interface VmShell {
  readonly where: string;
  /** The transport, with faults that are not ours yet turned into UnreachableError. */
  exec(script: string, options: ExecOptions): Promise<ExecResult>;
  /** Throws the RemoteCommandError of a step that failed (or timed out) on the target. */
  fail(step: string, command: string, result: ExecResult, errorOptions?: OzgErrorOptions): never;
}

export function createVmShell(transport: ShellTransport, site: string, environment: EnvironmentName): VmShell {
  return {
    where: transport.where,
    async exec(script, execOptions) {
      try {
        return await transport.exec(script, execOptions);
      } catch (error) {
        // a blob unreadable on this machine is not the target's fault: the driver names it
        if (error instanceof OzgError || error instanceof ArchiveSourceError) throw error;
        throw new UnreachableError(transport.where, `cannot run a command: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      }
    },
    fail(step, command, result, errorOptions = {}) {
      const stderr = result.timedOut ? `${result.stderr}\nozg: timed out after ${result.durationMs} ms` : result.stderr;
      throw new RemoteCommandError({ site, environment, where: transport.where, step }, command, { ...result, stderr }, errorOptions);
    },
  };
}
