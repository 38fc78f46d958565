import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Reporter } from '../events.js';
import { describeWriteFailure, RecordWriteError } from '../errors.js';
import type { SecretRedactor } from '../inventory/secret-redactor.js';
import { LIVE_OUTCOMES, type Ledger } from '../ledger/ledger.js';
import { formatLedgerLine } from '../ledger/ledger-line.js';
import type { LedgerRecord } from '../ledger/types.js';
import type { RecordInput } from '../rollout/pipeline.js';
import type { StopNow } from './workspace-lock.js';

export interface CreateRecorderOptions {
  ledger: Ledger;
  redactor: SecretRedactor;
  clock: Clock;
  reporter: Reporter;
  run: string;
  actor: string;
  stopNow: StopNow;
  /** a live record was written: the workspace's view of what each target runs */
  onLive(record: LedgerRecord): void;
  /** any record was written (holds follow rollbacks and releases) */
  onWritten?(record: LedgerRecord): void;
}

/** Appends one ledger record per step, stamped here so a record the disk refuses can still be shown whole. */
export function createRecorder(options: CreateRecorderOptions): (input: RecordInput) => Promise<void> {
  const { ledger, redactor, stopNow } = options;
  return async (input) => {
    // hook and smoke output and error messages come from scripts that can read the secrets
    const record: LedgerRecord = redactor.redactDeep({ id: randomUUID(), time: options.clock.now().toISOString(), ...input, run: options.run, actor: options.actor });
    if (stopNow.stopped()) {
      throw new RecordWriteError(ledger.file, 'ozg was stopped by a second interrupt and no longer holds the lock', { lines: [formatLedgerLine(record)] });
    }
    const appended = ledger.append([record]);
    stopNow.appending.add(appended);
    let written: LedgerRecord;
    try {
      [written] = (await appended) as [LedgerRecord];
    } catch (error) {
      throw new RecordWriteError(ledger.file, describeWriteFailure(error), { cause: error, lines: [formatLedgerLine(record)] });
    } finally {
      stopNow.appending.delete(appended);
    }
    if (LIVE_OUTCOMES.includes(input.outcome)) options.onLive(written);
    options.onWritten?.(written);
    options.reporter.emit({ type: 'recorded', record: written });
  };
}
