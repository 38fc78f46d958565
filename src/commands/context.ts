import type { Reporter } from '../events.js';
import type { SecretRedactor } from '../inventory/secret-redactor.js';

/** What every command gets from the CLI: nothing is read from the process inside commands. */
export interface CommandContext {
  cwd: string;
  env: Record<string, string | undefined>;
  reporter: Reporter;
  signal: AbortSignal;
  /** the inventory as the user named it (-i, OZG_INVENTORY, sites.yaml), relative to cwd */
  inventoryPath: string;
  /** stdin and stderr are terminals: confirmations may be asked */
  interactive: boolean;
  /** vm: record unknown SSH host keys instead of refusing them */
  acceptNewHostKeys: boolean;
  /** asks a yes/no question on the terminal; absent without one */
  confirm?(question: string): Promise<boolean>;
  /**
   * Registers what must happen before ozg leaves on a second Ctrl-C (end running scripts,
   * release the lock); the CLI runs it, then exits. Returns the unregister function.
   */
  onStopNow?(stop: () => Promise<void>): () => void;
  /**
   * learns every secret value the command resolves; the CLI passes all output through it.
   * Absent (library use, tests): the workspace keeps its own for the ledger and JUnit.
   */
  redactor?: SecretRedactor;
}

/** Selection flags shared by the commands that act on sites: the workspace selects by them. */
export type { SelectionFlags } from '../workspace/workspace.js';

/** What a command hands back to the CLI: the exit code is set there and nowhere else. */
export interface CommandResult {
  exitCode: number;
}
