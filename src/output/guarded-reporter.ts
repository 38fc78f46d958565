import type { SecretRedactor } from '../inventory/secret-redactor.js';
import type { OzgEvent, Reporter } from '../events.js';
import { escapeControlCharacters, escapeControlDeep } from './escape-control.js';

export interface GuardReporterOptions {
  redactor: SecretRedactor;
  /** human output (terminal, logs): control characters escaped too; JSON escapes them itself */
  escapeControls: boolean;
}

/**
 * Sits in front of every reporter: each event and result is redacted (and, for people,
 * control-escaped) before a formatter sees it, so no reporter or table has to remember to.
 */
export function guardReporter(inner: Reporter, options: GuardReporterOptions): Reporter {
  const { redactor, escapeControls } = options;
  const guardData = <T>(value: T): T => {
    const redacted = redactor.redactDeep(value);
    return escapeControls ? escapeControlDeep(redacted) : redacted;
  };
  const guardText = (text: string): string => {
    const redacted = redactor.redact(text);
    return escapeControls ? escapeControlCharacters(redacted) : redacted;
  };
  return {
    emit(event: OzgEvent) {
      inner.emit(guardData(event));
    },
    // the human text is formatted from the caller's own copy of the value: guarded as text;
    // a reporter that never prints the value gets none, so nothing unguarded can reach it
    result(value: unknown, human: () => string) {
      inner.result(inner.printsResultValue === false ? undefined : guardData(value), () => guardText(human()));
    },
    close() {
      inner.close();
    },
    ...(inner.printsResultValue === undefined ? {} : { printsResultValue: inner.printsResultValue }),
  };
}
