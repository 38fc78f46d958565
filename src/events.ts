import type { LedgerRecord } from './ledger/types.js';
import type { SmokeResult } from './smoke/types.js';

/** Steps of one site's pipeline, as reporters show them. */
export type Step = 'plan' | 'apply' | 'smoke' | 'rollback' | 'hold';

/** Everything domain code tells the user goes through these typed events. */
export type OzgEvent =
  | { type: 'run-started'; run: string; command: string; sites: number }
  | { type: 'wave-started'; wave: number; waves: number; sites: string[] }
  | { type: 'site-started'; site: string }
  | { type: 'step'; site: string; environment: string; procedure: string; step: Step; message: string }
  | { type: 'smoke-result'; site: string; environment: string; procedure: string; result: SmokeResult }
  | { type: 'recorded'; record: LedgerRecord }
  | { type: 'site-finished'; site: string; outcome: 'ok' | 'unchanged' | 'failed' | 'skipped'; error?: string; hint?: string }
  /** --accept-new-host-keys wrote this host key to known_hosts */
  | { type: 'host-key-recorded'; site: string; environment: string; endpoint: string; keyType: string; fingerprint: string; knownHostsFile: string; hashed: boolean }
  | { type: 'warning'; message: string }
  /** a file ozg keeps could not be written; `lines` are the ledger lines lost with it, to keep elsewhere */
  | { type: 'write-failed'; file: string; error: string; lines: string[] }
  | { type: 'info'; message: string }
  /** `interrupted`: Ctrl-C or SIGTERM ended the run early; the steps in flight were finished and recorded */
  | { type: 'run-finished'; run: string; ok: boolean; durationMs: number; interrupted?: boolean };

/** Domain code emits, reporters render. Domain code never writes to the console itself. */
export interface Reporter {
  emit(event: OzgEvent): void;
  /** a command's final result: printed on stdout (JSON with --json, a table or lines otherwise) */
  result(value: unknown, human: () => string): void;
  close(): void;
  /**
   * false: `result` prints only the human text, never the value. The guard then skips its
   * redacted copy of the value (a fleet report's model is hundreds of MB to copy) and hands
   * over none. Absent: the value may be printed, and is guarded.
   */
  readonly printsResultValue?: boolean;
}

/** A reporter that drops everything: for tests and library use. */
export const silentReporter: Reporter = {
  emit() {},
  result() {},
  close() {},
};
